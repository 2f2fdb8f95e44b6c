import NN
import Tensor

/// One student level into the teacher's width (official `distill_heads[i]`): a Linear, a
/// LayerNorm then a Linear (`norm_linear`), or Linear–GELU–Linear (`mlp`). Parameter names
/// are the official ones (`distill_heads.<level>.weight`, `.0.` / `.1.` / `.2.` inside the
/// `nn.Sequential`), so oracle cases load by name.
public final class MaskAlignAdapter: Module {
    public let kind: AdapterKind
    public let norm: LayerNorm?
    public let fc1: Linear?
    public let gelu: GELU?
    public let out: Linear

    public init(_ name: String, kind: AdapterKind, dim: Int, targetDim: Int, eps: Float) {
        self.kind = kind
        switch kind {
        case .linear:
            norm = nil; fc1 = nil; gelu = nil
            out = Linear(name, in: dim, out: targetDim)
        case .normLinear:
            norm = LayerNorm(name + ".0", dim: dim, eps: eps); fc1 = nil; gelu = nil
            out = Linear(name + ".1", in: dim, out: targetDim)
        case .mlp:
            norm = nil
            fc1 = Linear(name + ".0", in: dim, out: dim); gelu = GELU()
            out = Linear(name + ".2", in: dim, out: targetDim)
        }
    }

    public var parameters: [Parameter] {
        (norm?.parameters ?? []) + (fc1?.parameters ?? []) + out.parameters
    }

    /// `[rows, dim]` → `[rows, targetDim]`.
    @discardableResult
    public func forward(_ x: Tensor) -> Tensor {
        var h = x
        if let norm { h = norm.forward(h) }
        if let fc1, let gelu { h = gelu.forward(fc1.forward(h)) }
        return out.forward(h)
    }

    /// Accumulates the adapter's gradients; returns d loss / d x.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        var g = out.backward(dy)
        if let fc1, let gelu { g = fc1.backward(gelu.backward(g)) }
        if let norm { g = norm.backward(g) }
        return g
    }

    /// Forward matmul FLOPs on `rows` rows.
    public static func flops(kind: AdapterKind, rows: Double, dim: Double, targetDim: Double) -> Double {
        2 * rows * dim * (targetDim + (kind == .mlp ? dim : 0))
    }
}
