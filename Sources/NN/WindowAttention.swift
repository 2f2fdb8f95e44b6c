import Tensor

/// Swin's window attention (timm `WindowAttention`): multi-head self-attention inside each
/// window of N = w² tokens, softmax(q·hd^-½·kᵀ + B + M) v, with the learned relative
/// position bias B[h, i, j] = `relative_position_bias_table`[index(i, j), h] (table
/// `[(2w−1)², heads]`, index from `SwinWindows.relativePositionIndex`) and, on shifted
/// blocks, the additive mask M of the window's position in the image (`[nW, N, N]`).
/// qkv and proj as `Attention` (qkv columns q | k | v, head h at h·hd inside each).
///
/// Each (window, head) pair is one task. The bias gradient is the sum over windows of the
/// score gradients; it is reduced per head afterwards, in window order, so it does not
/// depend on the thread count.
public final class WindowAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let relativePositionBiasTable: Parameter
    public let relativePositionIndex: [Int32]
    public let dim: Int
    public let heads: Int
    public let headDim: Int
    public let window: Int
    public let scale: Float

    /// Attention probabilities `[windows, heads, N, N]`, kept for backward.
    public let probs = Tensor(shape: [0])
    private let context = Tensor(shape: [0])
    private let gradProbs = Tensor(shape: [0])
    private let gradQKV = Tensor(shape: [0])
    private var windows = 0
    private var mask: Tensor?

    public init(_ name: String, dim: Int, heads: Int, window: Int, layerID: Int = 0) {
        precondition(dim % heads == 0, "WindowAttention: dim \(dim) is not divisible by heads \(heads)")
        self.dim = dim
        self.heads = heads
        self.headDim = dim / heads
        self.window = window
        self.scale = 1 / Float(headDim).squareRoot()
        qkv = Linear(name + ".qkv", in: dim, out: 3 * dim, layerID: layerID)
        proj = Linear(name + ".proj", in: dim, out: dim, layerID: layerID)
        // Not weight-decayed: the official SimMIM optimizer skips `relative_position_bias_table`.
        relativePositionBiasTable = Parameter(name + ".relative_position_bias_table",
                                              shape: [(2 * window - 1) * (2 * window - 1), heads],
                                              weightDecay: false, layerID: layerID)
        relativePositionIndex = SwinWindows.relativePositionIndex(window: window)
    }

    /// timm's order: the bias table is registered before qkv and proj.
    public var parameters: [Parameter] { [relativePositionBiasTable] + qkv.parameters + proj.parameters }

    public var tokensPerWindow: Int { window * window }

    /// x: windowed rows `[windows·N, D]` (window-major, as `SwinWindows.partition` makes
    /// them). `mask`: `[nW, N, N]`, window w uses mask[w mod nW]; nil = none.
    @discardableResult
    public func forward(_ x: Tensor, windows: Int, mask: Tensor?) -> Tensor {
        let N = tokensPerWindow, D = dim, hd = headDim, H = heads
        precondition(x.count == windows * N * D, "WindowAttention: input \(x.shape), expected [\(windows * N), \(D)]")
        self.windows = windows
        self.mask = mask
        let QKV = qkv.forward(x).data
        probs.resize([windows, H, N, N])
        context.resize([windows * N, D])
        let P = probs.data, O = context.data, scale = scale, T = relativePositionBiasTable.value.data
        let M = mask?.data, nW = mask.map { $0.count / (N * N) } ?? 1
        relativePositionIndex.withUnsafeBufferPointer { idx in
            Parallel.forEach(windows * H) { wh in
                let w = wh / H, h = wh % H
                let q = QKV + w * N * 3 * D + h * hd, k = q + D, v = q + 2 * D
                let p = P + wh * N * N
                BLAS.sgemm1(false, true, N, N, hd, scale, q, 3 * D, k, 3 * D, 0, p, N)
                for e in 0..<(N * N) { p[e] += T[Int(idx[e]) * H + h] }
                if let M { Kernels.add(M + (w % nW) * N * N, into: p, N * N) }
                Kernels.softmaxRows(p, rows: N, cols: N)
                BLAS.sgemm1(false, false, N, hd, N, 1, p, N, v, 3 * D, 0, O + w * N * D + h * hd, D)
            }
        }
        return proj.forward(context)
    }

    /// Returns d loss / d x (the buffer belongs to `qkv`).
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let N = tokensPerWindow, D = dim, hd = headDim, H = heads, W = windows
        let dO = proj.backward(dy).data
        let QKV = qkv.output.data
        gradProbs.resize([W, H, N, N])
        gradQKV.resize([W * N, 3 * D])
        let P = probs.data, dP = gradProbs.data, dQKV = gradQKV.data, scale = scale
        Parallel.forEach(W * H) { wh in
            Attention.headBackward(group: wh / H, head: wh % H, tokens: N, dim: D, headDim: hd, scale: scale,
                                   qkv: QKV, probs: P + wh * N * N, gradOut: dO, gradProbs: dP + wh * N * N, gradQKV: dQKV)
        }
        // d table[index(i, j), h] += Σ_windows dS[w, h, i, j]: one task per head.
        let G = relativePositionBiasTable.grad.data
        relativePositionIndex.withUnsafeBufferPointer { idx in
            Parallel.forEach(H) { h in
                for w in 0..<W {
                    let ds = dP + (w * H + h) * N * N
                    for e in 0..<(N * N) { G[Int(idx[e]) * H + h] += ds[e] }
                }
            }
        }
        return qkv.backward(gradQKV)
    }

    /// Forward matmul FLOPs of `windows` windows: qkv, proj, and q·kᵀ and p·v (N²·D
    /// multiply-adds each per window).
    public static func flops(windows: Double, tokensPerWindow N: Double, dim D: Double) -> Double {
        2 * windows * N * 4 * D * D + 4 * windows * N * N * D
    }
}
