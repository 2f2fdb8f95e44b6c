import Tensor

/// Swin's block (timm `SwinTransformerBlock`), pre-norm:
/// t += drop_path(reverse(W-MSA(partition(LN1(t))))); t += drop_path(mlp(LN2(t))).
/// `partition` / `reverse` are the (shifted) windows of `SwinWindows`; a shifted block
/// passes its attention mask to `WindowAttention`. Drop-path per image as `Block`.
public final class SwinBlock: Module {
    public let norm1: LayerNorm
    public let attn: WindowAttention
    public let norm2: LayerNorm
    public let mlp: MLP
    public let windows: SwinWindows
    public let mask: Tensor?
    public var dropPath: Float = 0

    public let output = Tensor(shape: [0])
    private let mid = Tensor(shape: [0])
    private let windowed = Tensor(shape: [0])
    private let attnOut = Tensor(shape: [0])
    private let gradMid = Tensor(shape: [0])
    private let gradWindowed = Tensor(shape: [0])
    private let gradNormed = Tensor(shape: [0])
    private let branchGrad = Tensor(shape: [0])
    private var keepAttn: [Float] = []
    private var keepMLP: [Float] = []
    private var batch = 0

    /// `shift`: the requested cyclic shift (timm: 0 on even blocks, window/2 on odd ones),
    /// before the clamping of `SwinWindows`.
    public init(_ name: String, dim: Int, heads: Int, height: Int, width: Int, window: Int, shift: Int,
                mlpHidden: Int, eps: Float = 1e-5, layerID: Int) {
        windows = SwinWindows(height: height, width: width, window: window, shift: shift)
        mask = windows.attentionMask()
        norm1 = LayerNorm(name + ".norm1", dim: dim, eps: eps, layerID: layerID)
        attn = WindowAttention(name + ".attn", dim: dim, heads: heads, window: windows.window, layerID: layerID)
        norm2 = LayerNorm(name + ".norm2", dim: dim, eps: eps, layerID: layerID)
        mlp = MLP(name + ".mlp", dim: dim, hidden: mlpHidden, layerID: layerID)
    }

    public var parameters: [Parameter] { norm1.parameters + attn.parameters + norm2.parameters + mlp.parameters }

    public var tokens: Int { windows.height * windows.width }

    /// x `[B·H·W, C]`; `rng` draws drop-path decisions when training with `dropPath > 0`.
    @discardableResult
    public func forward(_ x: Tensor, batch: Int, rng: inout PRNG?) -> Tensor {
        self.batch = batch
        keepAttn = Block.drawKeep(dropPath, batch, &rng)
        keepMLP = Block.drawKeep(dropPath, batch, &rng)
        windows.partition(norm1.forward(x), batch: batch, into: windowed)
        let a = attn.forward(windowed, windows: batch * windows.windowsPerImage, mask: mask)
        windows.reverse(a, batch: batch, into: attnOut)
        Block.residual(x, attnOut, keepAttn, into: mid)
        let m = mlp.forward(norm2.forward(mid))
        Block.residual(mid, m, keepMLP, into: output)
        return output
    }

    /// Returns d loss / d input (the buffer belongs to `norm1`).
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        Block.mlpBackward(dy, norm2: norm2, mlp: mlp, keep: keepMLP, scratch: branchGrad, into: gradMid)
        windows.partition(Block.scaled(gradMid, keepAttn, scratch: branchGrad), batch: batch, into: gradWindowed)
        windows.reverse(attn.backward(gradWindowed), batch: batch, into: gradNormed)
        let dx = norm1.backward(gradNormed)
        Kernels.add(gradMid.data, into: dx.data, dx.count)
        return dx
    }

    /// Forward matmul FLOPs per image.
    public static func flops(tokens L: Double, tokensPerWindow N: Double, dim D: Double, hidden Hd: Double) -> Double {
        WindowAttention.flops(windows: L / N, tokensPerWindow: N, dim: D) + 2 * L * 2 * D * Hd
    }
}
