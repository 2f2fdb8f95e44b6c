import Tensor

/// Swin's patch merging (timm `PatchMerging`): each 2×2 group of an H×W grid of C-wide
/// tokens becomes one 4C row in timm's order x0 = (2i, 2j), x1 = (2i+1, 2j),
/// x2 = (2i, 2j+1), x3 = (2i+1, 2j+1), then LayerNorm(4C) (`norm`) and a bias-free
/// Linear 4C → 2C (`reduction`). `[B·H·W, C]` → `[B·(H/2)·(W/2), 2C]`.
public final class PatchMerging: Module {
    public let norm: LayerNorm
    public let reduction: Linear
    public let dim: Int
    public let height: Int
    public let width: Int

    private let merged = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var batch = 0

    public init(_ name: String, dim: Int, height: Int, width: Int, eps: Float = 1e-5, layerID: Int = 0) {
        precondition(height % 2 == 0 && width % 2 == 0, "PatchMerging: grid \(height)×\(width) is not even")
        self.dim = dim
        self.height = height
        self.width = width
        norm = LayerNorm(name + ".norm", dim: 4 * dim, eps: eps, layerID: layerID)
        reduction = Linear(name + ".reduction", in: 4 * dim, out: 2 * dim, bias: false, layerID: layerID)
    }

    public var parameters: [Parameter] { norm.parameters + reduction.parameters }

    public var outputTokens: Int { (height / 2) * (width / 2) }

    @discardableResult
    public func forward(_ x: Tensor, batch: Int) -> Tensor {
        precondition(x.count == batch * height * width * dim, "PatchMerging: input \(x.shape)")
        self.batch = batch
        merged.resize([batch * outputTokens, 4 * dim])
        shuffle(x.data, merged.data, toMerged: true)
        return reduction.forward(norm.forward(merged))
    }

    /// Returns d loss / d x, `[B·H·W, C]`.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let g = norm.backward(reduction.backward(dy))
        gradInput.resize([batch * height * width, dim])
        shuffle(gradInput.data, g.data, toMerged: false)
        return gradInput
    }

    /// Moves rows between the grid (`grid`) and the merged layout (`m`), either way.
    private func shuffle(_ grid: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, toMerged: Bool) {
        let C = dim, H2 = height / 2, W2 = width / 2, W = width, L = height * width
        Parallel.chunks(batch * H2 * W2, minPerChunk: max(1, Parallel.elementwiseGrain / (4 * C))) { lo, hi in
            for q in lo..<hi {
                let b = q / (H2 * W2), i = (q / W2) % H2, j = q % W2
                for (part, (dy, dx)) in [(0, 0), (1, 0), (0, 1), (1, 1)].enumerated() {
                    let t = grid + (b * L + (2 * i + dy) * W + 2 * j + dx) * C, r = m + (q * 4 + part) * C
                    if toMerged { r.update(from: t, count: C) } else { t.update(from: r, count: C) }
                }
            }
        }
    }

    /// Forward matmul FLOPs per image.
    public static func flops(outputTokens: Double, dim C: Double) -> Double { 2 * outputTokens * 4 * C * 2 * C }
}
