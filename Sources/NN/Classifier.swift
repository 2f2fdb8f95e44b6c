import Foundation
import Tensor

/// Fine-tuning head: mean over the tokens of each image, then a Linear classifier
/// (`cls_head`), as the oracle's fine-tune model (no class token).
public final class ClassifierHead: Module {
    public let fc: Linear
    public let pooled = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var batch = 0
    private var tokens = 0

    public init(_ name: String = "cls_head", dim: Int, classes: Int, layerID: Int) {
        fc = Linear(name, in: dim, out: classes, layerID: layerID)
    }

    public var parameters: [Parameter] { fc.parameters }

    /// z `[B·L, D]` → logits `[B, classes]`
    @discardableResult
    public func forward(_ z: Tensor, batch: Int, tokens: Int) -> Tensor {
        self.batch = batch
        self.tokens = tokens
        MeanPool.forward(z, batch: batch, tokens: tokens, into: pooled)
        return fc.forward(pooled)
    }

    /// d logits → d z (each token receives 1/L of its image's pooled gradient).
    @discardableResult
    public func backward(_ dLogits: Tensor) -> Tensor {
        let dp = fc.backward(dLogits)
        MeanPool.backward(dp, batch: batch, tokens: tokens, into: gradInput)
        return gradInput
    }
}

/// Mean over the tokens of each image: `[B·L, D]` → `[B, D]`.
public enum MeanPool {
    public static func forward(_ z: Tensor, batch: Int, tokens L: Int, into out: Tensor) {
        let D = z.count / (batch * L)
        out.resize([batch, D], zeroed: true)
        let inv = V16(repeating: 1 / Float(L))
        for b in 0..<batch {
            let o = out.data + b * D
            for l in 0..<L { Kernels.add(z.data + (b * L + l) * D, into: o, D) }
            vmap(o, o, D) { $0 * inv }
        }
    }

    public static func backward(_ dPooled: Tensor, batch: Int, tokens L: Int, into out: Tensor) {
        let D = dPooled.count / batch
        out.resize([batch * L, D])
        let inv = V16(repeating: 1 / Float(L))
        for b in 0..<batch {
            for l in 0..<L { vmap(dPooled.data + b * D, out.data + (b * L + l) * D, D) { $0 * inv } }
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
