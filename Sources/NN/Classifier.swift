import Foundation
import Tensor

/// How an image's token sequence becomes one feature vector: the mean of its patch tokens
/// (the oracle's fine-tune model; MAE's `global_pool`, here without `fc_norm`) or its class
/// token (MAE's linear probe).
public enum TokenPool: String, Codable, CaseIterable, Sendable {
    case mean, cls

    /// z `[B·S, D]`, S = prefix + patch tokens per image → `[B, D]`.
    public func forward(_ z: Tensor, batch: Int, tokens S: Int, prefix: Int, into out: Tensor) {
        switch self {
        case .mean: MeanPool.forward(z, batch: batch, tokens: S, skip: prefix, into: out)
        case .cls:
            precondition(prefix > 0, "TokenPool.cls: the encoder has no class token")
            let D = z.count / (batch * S)
            out.resize([batch, D])
            for b in 0..<batch { (out.data + b * D).update(from: z.data + b * S * D, count: D) }
        }
    }

    public func backward(_ dp: Tensor, batch: Int, tokens S: Int, prefix: Int, into out: Tensor) {
        switch self {
        case .mean: MeanPool.backward(dp, batch: batch, tokens: S, skip: prefix, into: out)
        case .cls:
            let D = dp.count / batch
            out.resize([batch * S, D], zeroed: true)
            for b in 0..<batch { (out.data + b * S * D).update(from: dp.data + b * D, count: D) }
        }
    }
}

/// Fine-tuning head: one feature per image (`TokenPool`), then a Linear classifier
/// (`cls_head`).
public final class ClassifierHead: Module {
    public let fc: Linear
    public let pool: TokenPool
    public let prefixTokens: Int
    public let pooled = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var batch = 0
    private var tokens = 0

    public init(_ name: String = "cls_head", dim: Int, classes: Int, layerID: Int, pool: TokenPool = .mean,
                prefixTokens: Int = 0) {
        fc = Linear(name, in: dim, out: classes, layerID: layerID)
        self.pool = pool
        self.prefixTokens = prefixTokens
    }

    public var parameters: [Parameter] { fc.parameters }

    /// z `[B·S, D]` (S tokens per image, class token first if any) → logits `[B, classes]`
    @discardableResult
    public func forward(_ z: Tensor, batch: Int, tokens: Int) -> Tensor {
        self.batch = batch
        self.tokens = tokens
        pool.forward(z, batch: batch, tokens: tokens, prefix: prefixTokens, into: pooled)
        return fc.forward(pooled)
    }

    /// d logits → d z (mean: each patch token receives 1/L of its image's pooled gradient).
    @discardableResult
    public func backward(_ dLogits: Tensor) -> Tensor {
        let dp = fc.backward(dLogits)
        pool.backward(dp, batch: batch, tokens: tokens, prefix: prefixTokens, into: gradInput)
        return gradInput
    }
}

/// Mean over the tokens of each image: `[B·S, D]` → `[B, D]`, skipping the first `skip`
/// tokens of each image (a class token).
public enum MeanPool {
    public static func forward(_ z: Tensor, batch: Int, tokens S: Int, skip: Int = 0, into out: Tensor) {
        let D = z.count / (batch * S), L = S - skip
        out.resize([batch, D], zeroed: true)
        let inv = V16(repeating: 1 / Float(L))
        for b in 0..<batch {
            let o = out.data + b * D
            for l in skip..<S { Kernels.add(z.data + (b * S + l) * D, into: o, D) }
            vmap(o, o, D) { $0 * inv }
        }
    }

    public static func backward(_ dPooled: Tensor, batch: Int, tokens S: Int, skip: Int = 0, into out: Tensor) {
        let D = dPooled.count / batch, L = S - skip
        out.resize([batch * S, D], zeroed: skip > 0)
        let inv = V16(repeating: 1 / Float(L))
        for b in 0..<batch {
            for l in skip..<S { vmap(dPooled.data + b * D, out.data + (b * S + l) * D, D) { $0 * inv } }
        }
    }
}

/// Softmax cross-entropy with optional label smoothing, mean over the batch.
public enum CrossEntropy {
    /// Returns the mean loss and writes d loss / d logits into `grad`.
    public static func forwardBackward(logits: Tensor, labels: [Int32], smoothing: Float = 0,
                                       grad: Tensor) -> Double {
        let B = labels.count, K = logits.count / B
        grad.resize(logits.shape)
        var total = 0.0
        for b in 0..<B {
            let z = logits.data + b * K, g = grad.data + b * K
            let m = vmax(z, K)
            var s = 0.0
            for k in 0..<K { s += Foundation.exp(Double(z[k] - m)) }
            let logZ = Double(m) + Foundation.log(s)
            let y = Int(labels[b])
            precondition(y >= 0 && y < K, "CrossEntropy: label \(y) outside 0..<\(K)")
            let off = Double(smoothing) / Double(K), on = 1 - Double(smoothing) + off
            var loss = 0.0
            for k in 0..<K {
                let logp = Double(z[k]) - logZ
                let t = k == y ? on : off
                loss -= t * logp
                g[k] = Float((Foundation.exp(logp) - t) / Double(B))
            }
            total += loss
        }
        return total / Double(B)
    }

    /// Number of rows whose arg-max equals the label.
    public static func correct(logits: Tensor, labels: [Int32]) -> Int {
        let B = labels.count, K = logits.count / B
        var n = 0
        for b in 0..<B {
            let z = logits.data + b * K
            var best = 0
            for k in 1..<K where z[k] > z[best] { best = k }
            if best == Int(labels[b]) { n += 1 }
        }
        return n
    }
}
