import Tensor

/// Where Swin's (shifted) windows put an image's tokens, as timm's `SwinTransformerBlock`
/// does with `torch.roll(x, (−s, −s))` then `window_partition`, and back with
/// `window_reverse` then `torch.roll(x, (s, s))`.
///
/// Tokens are rows `[B·H·W, C]` in row-major (h, w) order per image. Windowed order is
/// window-major (window (wh, ww) row-major over the (H/w)×(W/w) windows), then (i, j)
/// row-major inside the window. `source[k]` is the image token that windowed row k holds:
/// partition is a gather by `source`, reverse the scatter by it (a permutation, so both are
/// exact and each other's adjoint).
public struct SwinWindows: Equatable, Sendable {
    public let height: Int
    public let width: Int
    /// Window side and cyclic shift after timm's clamping: a stage grid no larger than the
    /// window is one window, unshifted (`_calc_window_shift` with `always_partition` off).
    public let window: Int
    public let shift: Int
    public let source: [Int32]

    public init(height: Int, width: Int, window requested: Int, shift requestedShift: Int) {
        let clamp = min(height, width) <= requested
        window = clamp ? min(height, width) : requested
        shift = clamp ? 0 : requestedShift
        self.height = height
        self.width = width
        precondition(height % window == 0 && width % window == 0,
                     "SwinWindows: window \(window) does not divide the \(height)×\(width) grid")
        let ws = window, s = shift, perRow = width / ws
        var src = [Int32](repeating: 0, count: height * width)
        for k in 0..<(height * width) {
            let win = k / (ws * ws), inside = k % (ws * ws)
            let r = (win / perRow) * ws + inside / ws, c = (win % perRow) * ws + inside % ws
            src[k] = Int32(((r + s) % height) * width + (c + s) % width)
        }
        source = src
    }

    public var tokensPerWindow: Int { window * window }
    public var windowsPerImage: Int { (height / window) * (width / window) }

    /// timm's `attn_mask` `[nW, N, N]`: 0 where two tokens of a shifted window came from the
    /// same region of the rolled image, −100 where not; nil without a shift.
    public func attentionMask() -> Tensor? {
        guard shift > 0 else { return nil }
        let ws = window, s = shift, N = ws * ws, nW = windowsPerImage, perRow = width / ws
        func region(_ x: Int, _ n: Int) -> Int { x < n - ws ? 0 : (x < n - s ? 1 : 2) }
        let m = Tensor(shape: [nW, N, N])
        for w in 0..<nW {
            let label = (0..<N).map { q -> Int in
                let r = (w / perRow) * ws + q / ws, c = (w % perRow) * ws + q % ws
                return region(r, height) * 3 + region(c, width)
            }
            for i in 0..<N { for j in 0..<N where label[i] != label[j] { m.data[(w * N + i) * N + j] = -100 } }
        }
        return m
    }

    /// timm's `relative_position_index` `[N·N]` for a window: for tokens i = (hi, wi) and
    /// j = (hj, wj), (hi − hj + w − 1)·(2w − 1) + (wi − wj + w − 1).
    public static func relativePositionIndex(window ws: Int) -> [Int32] {
        let N = ws * ws
        var idx = [Int32](repeating: 0, count: N * N)
        for i in 0..<N { for j in 0..<N {
            idx[i * N + j] = Int32((i / ws - j / ws + ws - 1) * (2 * ws - 1) + (i % ws - j % ws + ws - 1))
        } }
        return idx
    }

    /// out[b, k] = x[b, source[k]]: image rows → windowed rows.
    public func partition(_ x: Tensor, batch: Int, into out: Tensor) {
        permute(x, batch: batch, into: out, gather: true)
    }

    /// out[b, source[k]] = x[b, k]: windowed rows → image rows.
    public func reverse(_ x: Tensor, batch: Int, into out: Tensor) {
        permute(x, batch: batch, into: out, gather: false)
    }

    private func permute(_ x: Tensor, batch: Int, into out: Tensor, gather: Bool) {
        let L = height * width, C = x.count / (batch * L)
        precondition(C * batch * L == x.count, "SwinWindows: input \(x.shape) is not \(batch)×\(L) rows")
        out.resize(x.shape)
        let X = x.data, O = out.data
        source.withUnsafeBufferPointer { src in
            Parallel.chunks(batch * L, minPerChunk: max(1, Parallel.elementwiseGrain / C)) { lo, hi in
                for q in lo..<hi {
                    let b = q / L, k = q % L, t = b * L + Int(src[k])
                    if gather { (O + q * C).update(from: X + t * C, count: C) }
                    else { (O + t * C).update(from: X + q * C, count: C) }
                }
            }
        }
    }
}
