import Foundation
import Tensor

/// torchvision's `RandomResizedCrop` box sampling: up to 10 tries of an area fraction
/// uniform in `scale` and an aspect ratio (w/h) log-uniform in `ratio`, rounded to whole
/// pixels and kept if it fits; otherwise the centre crop of the whole image clamped to the
/// ratio range. The official SimMIM pre-training uses scale (0.67, 1), ratio (3/4, 4/3).
public struct RandomResizedCrop: Sendable, Equatable {
    public var scale: ClosedRange<Float>
    public var ratio: ClosedRange<Float>

    public init(scale: ClosedRange<Float> = 0.67...1, ratio: ClosedRange<Float> = 0.75...(4.0 / 3.0)) {
        precondition(scale.lowerBound > 0 && scale.upperBound <= 1, "crop scale must lie in (0, 1]")
        precondition(ratio.lowerBound > 0, "crop ratio must be positive")
        self.scale = scale; self.ratio = ratio
    }

    /// A crop in whole source pixels.
    public struct Box: Sendable, Equatable {
        public var top: Int, left: Int, height: Int, width: Int
        public init(top: Int, left: Int, height: Int, width: Int) {
            self.top = top; self.left = left; self.height = height; self.width = width
        }
    }

    public func sample(width W: Int, height H: Int, rng: inout PRNG) -> Box {
        let area = Float(W * H)
        let logLo = log(ratio.lowerBound), logHi = log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(logLo, logHi))
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0 && h > 0 && w <= W && h <= H {
                let top = rng.int(H - h + 1), left = rng.int(W - w + 1)
                return Box(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Float(W) / Float(H)
        var w = W, h = H
        if inRatio < ratio.lowerBound {
            h = Int((Float(w) / ratio.lowerBound).rounded())
        } else if inRatio > ratio.upperBound {
            w = Int((Float(h) * ratio.upperBound).rounded())
        }
        return Box(top: (H - h) / 2, left: (W - w) / 2, height: h, width: w)
    }

    /// Bilinear resampling of `box` of one `S×S` plane to `S×S` (pixel centres aligned, as
    /// `align_corners=False`; edges clamped). Upsampling only, so no antialias filter is
    /// needed. A whole-image box reproduces the plane exactly.
    public static func resample(_ src: UnsafePointer<UInt8>, size S: Int, box: Box, mirror: Bool,
                                into dst: UnsafeMutablePointer<Float>, scale a: Float, offset b: Float) {
        // Per-column and per-row source taps and weights, shared by every row / column.
        func taps(_ start: Int, _ len: Int) -> [(Int, Int, Float)] {
            (0..<S).map { o in
                let f = Float(start) + (Float(o) + 0.5) * Float(len) / Float(S) - 0.5
                let lo = min(max(Int(f.rounded(.down)), 0), S - 1), hi = min(lo + 1, S - 1)
                return (lo, hi, min(max(f - Float(lo), 0), 1))
            }
        }
        let xs = taps(box.left, box.width), ys = taps(box.top, box.height)
        for oy in 0..<S {
            let (ya, yb, ty) = ys[oy]
            let rowA = src + ya * S, rowB = src + yb * S, out = dst + oy * S
            for ox in 0..<S {
                let (xa, xb, tx) = xs[mirror ? S - 1 - ox : ox]
                let top = Float(rowA[xa]) + (Float(rowA[xb]) - Float(rowA[xa])) * tx
                let bot = Float(rowB[xa]) + (Float(rowB[xb]) - Float(rowB[xa])) * tx
                out[ox] = (top + (bot - top) * ty) * a + b
            }
        }
    }
}
