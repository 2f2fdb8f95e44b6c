import Foundation
import Tensor

/// MAE's fixed 2-D sin-cos position embedding (`util/pos_embed.py`), `[g·g, dim]` for the
/// patch tokens (the class token's row is zero and not stored). With q = dim/4 and
/// ω_k = 10000^(−k/q), token i·g + j (row i, column j) is
/// `[sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)]`: the official `np.meshgrid(grid_w, grid_h)`
/// puts the column index in the first half. Computed in Double and rounded once, as the
/// official float64 table cast to float32.
public enum SinCosPosition {
    public static func table(dim: Int, grid g: Int) -> Tensor {
        precondition(dim % 4 == 0, "2-D sin-cos position embedding needs dim % 4 == 0, got \(dim)")
        let q = dim / 4
        let out = Tensor(shape: [g * g, dim])
        for i in 0..<g {
            for j in 0..<g {
                let row = out.data + (i * g + j) * dim
                for k in 0..<q {
                    let omega = 1 / pow(10000.0, Double(k) / Double(q))
                    let aj = Double(j) * omega, ai = Double(i) * omega
                    row[k] = Float(sin(aj)); row[q + k] = Float(cos(aj))
                    row[2 * q + k] = Float(sin(ai)); row[3 * q + k] = Float(cos(ai))
                }
            }
        }
        return out
    }
}
