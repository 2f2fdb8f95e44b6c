import Tensor

/// Replaces masked patch rows by a learned mask token, before the encoder adds positions:
/// t = e·(1 − w) + mask_token·w per row (w = 1 masked, 0 visible; soft masks as the
/// official SimMIM writes it). SimMIM owns one, as does MAE's "[M] in encoder" variant;
/// the parameter keeps the official name `encoder.mask_token`, so checkpoints and oracle
/// cases load by name.
public final class MaskTokenMix: Module {
    public let token: Parameter
    public let dim: Int
    /// The mixed rows `[B·L, D]`.
    public let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var mask: [Float] = []

    public init(_ name: String = "encoder.mask_token", dim: Int) {
        self.dim = dim
        // The official ViT variant decays the mask token ([1, 1, D] is not 1-D).
        token = Parameter(name, shape: [1, 1, dim], layerID: 0)
    }

    public var parameters: [Parameter] { [token] }

    /// `e` `[B·L, D]`; `mask` one weight per row.
    @discardableResult
    public func forward(_ e: Tensor, mask: [Float]) -> Tensor {
        let D = dim, rows = e.count / D
        precondition(mask.count == rows, "MaskTokenMix: mask has \(mask.count) entries, expected \(rows)")
        self.mask = mask
        output.resize([rows, D])
        let E = e.data, O = output.data, M = token.value.data
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / D)) { lo, hi in
            for r in lo..<hi {
                let w = mask[r]
                if w == 0 { (O + r * D).update(from: E + r * D, count: D) }
                else if w == 1 { (O + r * D).update(from: M, count: D) }
                else { for d in 0..<D { O[r * D + d] = E[r * D + d] * (1 - w) + M[d] * w } }
            }
        }
        return output
    }

    /// d loss / d output → d loss / d e; accumulates the token's gradient.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let D = dim, rows = mask.count, w = mask
        gradInput.resize([rows, D])
        let G = dy.data, dE = gradInput.data, dM = token.grad.data
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / D)) { lo, hi in
            for r in lo..<hi {
                if w[r] == 0 { (dE + r * D).update(from: G + r * D, count: D); continue }
                let keep = V16(repeating: 1 - w[r])
                vmap(G + r * D, dE + r * D, D) { $0 * keep }
            }
        }
        // Σ over masked rows, serial in row order (a short pass).
        for r in 0..<rows where w[r] != 0 {
            let wr = V16(repeating: w[r])
            vmap2(G + r * D, dM, dM, D) { $1.addingProduct($0, wr) }
        }
        return gradInput
    }
}
