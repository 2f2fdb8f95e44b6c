import Foundation
import Tensor

/// AdamW exactly as `torch.optim.AdamW` (foreach=False): decoupled weight decay applied
/// to the pre-update parameter, bias-corrected moments, eps added after the corrected
/// square root. Per-parameter weight decay (0 for `Parameter.weightDecay == false`) and an
/// lr scale (layer-wise decay) form the parameter groups.
public final class AdamW {
    public let parameters: [Parameter]
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    /// Multiplies the lr of each parameter (1 unless layer-wise decay is set).
    public var lrScale: [Float]
    public private(set) var step = 0
    private let m: [Tensor]
    private let v: [Tensor]

    public init(_ parameters: [Parameter], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0.05) {
        self.parameters = parameters
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        lrScale = Array(repeating: 1, count: parameters.count)
        m = parameters.map { Tensor(shape: $0.value.shape) }
        v = parameters.map { Tensor(shape: $0.value.shape) }
    }

    /// Layer-wise lr decay (BEiT): a parameter at depth index i of `layers` gets
    /// decay^(layers − 1 − i), so the head trains at the full lr and the embeddings least.
    public func setLayerDecay(_ decay: Float, layers: Int) {
        lrScale = parameters.map { Float(pow(Double(decay), Double(layers - 1 - $0.layerID))) }
    }

    public func update(lr: Float) {
        step += 1
        let t = Float(step)
        let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
        let bc2Sqrt = bc2.squareRoot()
        let b1 = beta1, b2 = beta2, eps = eps
        // Most tensors are far below the threading grain, so the unit of parallel work is a
        // segment of at most `segment` elements of one tensor; each element is updated by
        // exactly one thread, in the same arithmetic whatever the thread count.
        let segs = segments
        Parallel.chunks(segs.count, minPerChunk: 4) { lo, hi in
            for s in lo..<hi {
                let (i, a, b) = segs[s]
                let p = parameters[i]
                let lri = lr * lrScale[i]
                let decay = 1 - lri * (p.weightDecay ? weightDecay : 0)
                let stepSize = lri / bc1
                let P = p.value.data, G = p.grad.data, M = m[i].data, V = v[i].data
                for k in a..<b {
                    let g = G[k]
                    let pk = P[k] * decay
                    let mk = b1 * M[k] + (1 - b1) * g
                    let vk = b2 * V[k] + (1 - b2) * g * g
                    M[k] = mk; V[k] = vk
                    P[k] = pk - stepSize * mk / (vk.squareRoot() / bc2Sqrt + eps)
                }
            }
        }
    }

    private lazy var segments: [(Int, Int, Int)] = {
        let segment = 32_768
        var out: [(Int, Int, Int)] = []
        for (i, p) in parameters.enumerated() {
            var a = 0
            while a < p.count { out.append((i, a, min(p.count, a + segment))); a += segment }
        }
        return out
    }()

    /// Moments for checkpoints: `exp_avg.<name>`, `exp_avg_sq.<name>` (shared storage, not
    /// copies). With `step` they are everything `update` carries from one call to the next.
    public var state: [String: Tensor] {
        var s: [String: Tensor] = [:]
        for (i, p) in parameters.enumerated() { s["exp_avg." + p.name] = m[i]; s["exp_avg_sq." + p.name] = v[i] }
        return s
    }

    /// Restores `state` and `step`. Every moment is checked before any is copied, so a
    /// state that does not fit leaves the optimiser as it was.
    public func loadState(_ s: [String: Tensor], step: Int) throws {
        var pairs: [(Tensor, Tensor)] = []
        for p in parameters {
            for key in ["exp_avg." + p.name, "exp_avg_sq." + p.name] {
                guard let t = s[key] else { throw ModelError.missingParameter(key) }
                guard t.shape == p.value.shape else { throw ModelError.shapeMismatch(key, expected: p.value.shape, got: t.shape) }
            }
            pairs.append((s["exp_avg." + p.name]!, s["exp_avg_sq." + p.name]!))
        }
        for (i, (a, b)) in pairs.enumerated() {
            m[i].data.update(from: a.data, count: a.count)
            v[i].data.update(from: b.data, count: b.count)
        }
        self.step = step
    }
}

/// `torch.nn.utils.clip_grad_norm_`: scales all gradients by max/(norm + 1e-6) when the
/// global L2 norm exceeds `maxNorm`. Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Double {
    let norm = parameters.reduce(0.0) { $0 + $1.grad.sumOfSquares() }.squareRoot()
    let coef = Double(maxNorm) / (norm + 1e-6)
    if coef < 1 {
        let c = V16(repeating: Float(coef))
        for p in parameters { vmap(p.grad.data, p.grad.data, p.count) { $0 * c } }
    }
    return norm
}
