import Tensor

/// Multi-head self-attention over `tokens` tokens per image, timm layout: one qkv Linear
/// (`[3D, D]`, output columns q | k | v, head h at columns h·hd ..< (h+1)·hd inside each),
/// softmax(q·hd^-½ · kᵀ) v per head, heads concatenated, then `proj`.
///
/// Each (image, head) pair is one task: its three small products and its softmax run on one
/// core, straight out of the qkv buffer (strided, no transposed copies).
public final class Attention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let dim: Int
    public let heads: Int
    public let headDim: Int
    public let scale: Float

    /// Attention probabilities `[B, heads, L, L]`, kept for backward.
    public let probs = Tensor(shape: [0])
    private let context = Tensor(shape: [0])      // heads concatenated, `[B·L, D]`
    private let gradProbs = Tensor(shape: [0])
    private let gradQKV = Tensor(shape: [0])
    private var batch = 0
    private var tokens = 0

    public init(_ name: String, dim: Int, heads: Int, layerID: Int = 0) {
        precondition(dim % heads == 0, "Attention: dim \(dim) is not divisible by heads \(heads)")
        self.dim = dim
        self.heads = heads
        self.headDim = dim / heads
        self.scale = 1 / Float(headDim).squareRoot()
        qkv = Linear(name + ".qkv", in: dim, out: 3 * dim, layerID: layerID)
        proj = Linear(name + ".proj", in: dim, out: dim, layerID: layerID)
    }

    public var parameters: [Parameter] { qkv.parameters + proj.parameters }

    @discardableResult
    public func forward(_ x: Tensor, batch: Int, tokens: Int) -> Tensor {
        self.batch = batch
        self.tokens = tokens
        let L = tokens, D = dim, hd = headDim, H = heads
        let QKV = qkv.forward(x).data
        probs.resize([batch, H, L, L])
        context.resize([batch * L, D])
        let P = probs.data, O = context.data, scale = scale
        Parallel.forEach(batch * H) { bh in
            let b = bh / H, h = bh % H
            let q = QKV + b * L * 3 * D + h * hd, k = q + D, v = q + 2 * D
            let p = P + bh * L * L
            BLAS.sgemm1(false, true, L, L, hd, scale, q, 3 * D, k, 3 * D, 0, p, L)
            Kernels.softmaxRows(p, rows: L, cols: L)
            BLAS.sgemm1(false, false, L, hd, L, 1, p, L, v, 3 * D, 0, O + b * L * D + h * hd, D)
        }
        return proj.forward(context)
    }

    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let L = tokens, D = dim, hd = headDim, H = heads
        let dO = proj.backward(dy).data
        let QKV = qkv.output.data
        gradProbs.resize([batch, H, L, L])
        gradQKV.resize([batch * L, 3 * D])
        let P = probs.data, dP = gradProbs.data, dQKV = gradQKV.data, scale = scale
        Parallel.forEach(batch * H) { bh in
            Attention.headBackward(group: bh / H, head: bh % H, tokens: L, dim: D, headDim: hd, scale: scale,
                                   qkv: QKV, probs: P + bh * L * L, gradOut: dO, gradProbs: dP + bh * L * L, gradQKV: dQKV)
        }
        return qkv.backward(gradQKV)
    }

    /// One head of one group of `L` tokens (an image; a window in `WindowAttention`)
    /// backwards, from its probabilities `P` and d context: d Q, d K, d V into `gradQKV`,
    /// and dS (the scores' gradient, which the window's position bias needs) left in
    /// `gradProbs`. Rows of `qkv` / `gradQKV` are `[q | k | v]` of width 3·dim.
    static func headBackward(group g: Int, head h: Int, tokens L: Int, dim D: Int, headDim hd: Int, scale: Float,
                             qkv QKV: UnsafeMutablePointer<Float>, probs p: UnsafeMutablePointer<Float>,
                             gradOut dO: UnsafeMutablePointer<Float>, gradProbs dp: UnsafeMutablePointer<Float>,
                             gradQKV dQKV: UnsafeMutablePointer<Float>) {
        let off = g * L * 3 * D + h * hd
        let q = QKV + off, k = q + D, v = q + 2 * D
        let dq = dQKV + off, dk = dq + D, dv = dq + 2 * D
        let dOh = dO + g * L * D + h * hd
        // dP = dO Vᵀ ; dV = Pᵀ dO
        BLAS.sgemm1(false, true, L, L, hd, 1, dOh, D, v, 3 * D, 0, dp, L)
        BLAS.sgemm1(true, false, L, hd, L, 1, p, L, dOh, D, 0, dv, 3 * D)
        // softmax backward in place: dS = P ⊙ (dP − rowsum(dP ⊙ P))
        for r in 0..<L {
            let pr = p + r * L, dr = dp + r * L
            let s = V16(repeating: vdot(pr, dr, L))
            vmap2(pr, dr, dr, L) { p, g in p * (g - s) }
        }
        // dQ = scale · dS K ; dK = scale · dSᵀ Q
        BLAS.sgemm1(false, false, L, hd, L, scale, dp, L, k, 3 * D, 0, dq, 3 * D)
        BLAS.sgemm1(true, false, L, hd, L, scale, dp, L, q, 3 * D, 0, dk, 3 * D)
    }
}
