import Tensor

/// MaskAlign's per-level loss (official `forward_loss` with `loss_type: smoothl1`):
/// 2 · `F.smooth_l1_loss` (β = 1, mean over every element) between adapted student features
/// and teacher features. `patches` holds the targets, one row per student token; a row of
/// weight 0 is left out of the sum and the mean (the student's class token, when the
/// teacher has none to align it with).
public final class FeatureAlignmentLoss: Objective {
    /// The official code doubles the smooth-L1 loss.
    public static let scale = 2.0
    public static let beta = 1.0

    public init() {}

    public func forward(pred: Tensor, patches target: Tensor, weights: [Float], grad: Tensor) -> Double {
        let rows = weights.count, C = pred.count / rows
        precondition(target.count == pred.count, "FeatureAlignmentLoss: pred \(pred.shape), target \(target.shape)")
        grad.resize(pred.shape)
        let counted = weights.reduce(0.0) { $0 + Double($1) } * Double(C)
        guard counted > 0 else { grad.zero(); return 0 }
        let X = pred.data, T = target.data, G = grad.data
        let beta = FeatureAlignmentLoss.beta, g = FeatureAlignmentLoss.scale / counted
        var total = 0.0
        for r in 0..<rows {
            let w = Double(weights[r])
            var s = 0.0
            for k in r * C..<(r + 1) * C {
                let d = Double(X[k]) - Double(T[k]), a = abs(d)
                s += a < beta ? 0.5 * d * d / beta : a - 0.5 * beta
                G[k] = Float(w * g * (a < beta ? d / beta : (d > 0 ? 1 : -1)))
            }
            total += w * s
        }
        return FeatureAlignmentLoss.scale * total / counted
    }

    /// The official `target_norm: whiten`: `F.layer_norm` without affine (eps 1e-5) over each
    /// row of `x`, into `out`.
    public static func whiten(_ x: Tensor, dim d: Int, into out: Tensor, eps: Double = 1e-5) {
        out.resize(x.shape)
        let rows = x.count / d, X = x.data, O = out.data
        Parallel.chunks(rows, minPerChunk: 16) { lo, hi in
            for r in lo..<hi {
                var mean = 0.0
                for k in 0..<d { mean += Double(X[r * d + k]) }
                mean /= Double(d)
                var v = 0.0
                for k in 0..<d { let c = Double(X[r * d + k]) - mean; v += c * c }
                let rs = 1 / (v / Double(d) + eps).squareRoot()
                for k in 0..<d { O[r * d + k] = Float((Double(X[r * d + k]) - mean) * rs) }
            }
        }
    }
}
