import Tensor

/// Pre-norm transformer block: t += drop_path(attn(LN1(t))); t += drop_path(mlp(LN2(t))).
///
/// Drop-path (stochastic depth, used when fine-tuning) zeroes a residual branch for whole
/// images with probability `dropPath` and scales kept branches by 1/(1 − dropPath), as timm.
public final class Block: Module {
    public let norm1: LayerNorm
    public let attn: Attention
    public let norm2: LayerNorm
    public let mlp: MLP
    public var dropPath: Float = 0

    /// The block's output (also the residual stream after the attention branch, in `mid`).
    public let output = Tensor(shape: [0])
    private let mid = Tensor(shape: [0])
    private let gradMid = Tensor(shape: [0])
    private let branchGrad = Tensor(shape: [0])
    private var keepAttn: [Float] = []
    private var keepMLP: [Float] = []
    private var batch = 0
    private var tokens = 0

    public init(_ name: String, dim: Int, heads: Int, mlpHidden: Int, eps: Float, layerID: Int) {
        norm1 = LayerNorm(name + ".norm1", dim: dim, eps: eps, layerID: layerID)
        attn = Attention(name + ".attn", dim: dim, heads: heads, layerID: layerID)
        norm2 = LayerNorm(name + ".norm2", dim: dim, eps: eps, layerID: layerID)
        mlp = MLP(name + ".mlp", dim: dim, hidden: mlpHidden, layerID: layerID)
    }

    public var parameters: [Parameter] { norm1.parameters + attn.parameters + norm2.parameters + mlp.parameters }

    /// `rng` draws the drop-path decisions when training with `dropPath > 0`; nil = eval.
    @discardableResult
    public func forward(_ x: Tensor, batch: Int, tokens: Int, rng: inout PRNG?) -> Tensor {
        self.batch = batch
        self.tokens = tokens
        keepAttn = Block.drawKeep(dropPath, batch, &rng)
        keepMLP = Block.drawKeep(dropPath, batch, &rng)
        let a = attn.forward(norm1.forward(x), batch: batch, tokens: tokens)
        Block.residual(x, a, keepAttn, into: mid)
        let m = mlp.forward(norm2.forward(mid))
        Block.residual(mid, m, keepMLP, into: output)
        return output
    }

    /// Returns d loss / d input (the buffer belongs to `norm1`).
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        Block.mlpBackward(dy, norm2: norm2, mlp: mlp, keep: keepMLP, scratch: branchGrad, into: gradMid)
        let dx = norm1.backward(attn.backward(Block.scaled(gradMid, keepAttn, scratch: branchGrad)))
        Kernels.add(gradMid.data, into: dx.data, dx.count)
        return dx
    }

    /// Per image: 1/(1 − dropPath) to keep the branch, 0 to drop it; empty when nothing is
    /// dropped (eval, or dropPath 0).
    static func drawKeep(_ dropPath: Float, _ batch: Int, _ rng: inout PRNG?) -> [Float] {
        guard dropPath > 0, rng != nil else { return [] }
        let keep = 1 - dropPath
        return (0..<batch).map { _ in rng!.uniform() < keep ? 1 / keep : 0 }
    }

    /// The second half of a pre-norm block backwards: d loss / d mid = dy + LN2ᵀ(MLPᵀ(keep·dy)),
    /// written to `gradMid` (Swin's block shares it).
    static func mlpBackward(_ dy: Tensor, norm2: LayerNorm, mlp: MLP, keep: [Float], scratch: Tensor, into gradMid: Tensor) {
        let dm = norm2.backward(mlp.backward(Block.scaled(dy, keep, scratch: scratch)))
        gradMid.resize(dy.shape)
        let DY = dy.data, DM = dm.data, G = gradMid.data
        Parallel.elementwise(dy.count) { lo, hi in vmap2(DY + lo, DM + lo, G + lo, hi - lo) { $0 + $1 } }
    }

    /// out = x + keep[b]·f (keep empty = all ones).
    static func residual(_ x: Tensor, _ f: Tensor, _ keep: [Float], into out: Tensor) {
        out.resize(x.shape)
        let n = x.count
        if keep.isEmpty {
            let X = x.data, F = f.data, O = out.data
            Parallel.elementwise(n) { lo, hi in vmap2(X + lo, F + lo, O + lo, hi - lo) { $0 + $1 } }
            return
        }
        let per = n / keep.count
        for b in 0..<keep.count {
            let s = V16(repeating: keep[b])
            vmap2(x.data + b * per, f.data + b * per, out.data + b * per, per) { $0.addingProduct($1, s) }
        }
    }

    /// keep[b]·dy, or dy itself when no branch is dropped.
    static func scaled(_ dy: Tensor, _ keep: [Float], scratch: Tensor) -> Tensor {
        if keep.isEmpty { return dy }
        scratch.resize(dy.shape)
        let per = dy.count / keep.count
        for b in 0..<keep.count {
            let s = V16(repeating: keep[b])
            vmap(dy.data + b * per, scratch.data + b * per, per) { $0 * s }
        }
        return scratch
    }
}
