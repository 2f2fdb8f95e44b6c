import Foundation
import Tensor

/// MaskAlign's attentive masking (official `attention_masking`): each image's patches are
/// ranked by `torch.multinomial(importance, L, replacement=False)` and the first K kept,
/// so patches the teacher attends to tend to stay visible.
///
/// Sampling without replacement is drawn as PyTorch's CPU kernel draws it: the order of
/// p / q descending with q ~ Exp(1) per patch (the exponential race, a Gumbel top-k). The
/// q are the sampling noise, drawn in `drawMasks`; the ranking needs the teacher's
/// attention, so it is done in the step.
public enum AttentiveMasking {
    /// Patch importance `[B·L]` from the teacher's last-block attention `[B, H, S, S]`
    /// (S = prefix + L): with a class token, its row over the patch columns averaged over
    /// heads (official `attentions[-1][:, :, 0, 1:].mean(1)`); without one (a SimMIM
    /// teacher), the mean attention each patch receives, over heads and query tokens.
    public static func importance(attention: Tensor, batch B: Int, heads H: Int, prefix: Int) -> [Float] {
        let S = Int(Double(attention.count / (B * H)).squareRoot()), L = S - prefix
        precondition(B * H * S * S == attention.count, "AttentiveMasking: attention \(attention.shape)")
        let A = attention.data
        var out = [Float](repeating: 0, count: B * L)
        for b in 0..<B {
            for l in 0..<L {
                var s = 0.0
                for h in 0..<H {
                    let base = (b * H + h) * S * S
                    if prefix > 0 { s += Double(A[base + prefix + l]) }
                    else { for q in 0..<S { s += Double(A[base + q * S + l]) } }
                }
                out[b * L + l] = Float(s / Double(H * (prefix > 0 ? 1 : S)))
            }
        }
        return out
    }

    /// Exponential noise, one per patch: −log(1 − u), u ∈ [0, 1).
    public static func drawNoise(count: Int, _ rng: inout PRNG) -> [Float] {
        (0..<count).map { _ in Float(-log1p(-rng.uniformDouble())) }
    }

    /// The visible set: per image the K largest importance / noise, in that order.
    public static func masking(importance p: [Float], noise q: [Float], batch: Int, kept: Int) -> TokenMasking {
        precondition(p.count == q.count, "AttentiveMasking: \(p.count) importances, \(q.count) noise values")
        // TokenMasking keeps the smallest values first: rank by −p/q.
        let keys = zip(p, q).map { Float(-(Double($0) / Double($1))) }
        return TokenMasking(noise: keys, batch: batch, kept: kept)
    }
}
