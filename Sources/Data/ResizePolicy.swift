import Foundation

/// How a decoded image of any shape becomes the protocol's `S×S` working image (the
/// `data.resize` setting). Both resample with an antialiased triangle (bilinear) filter
/// whose support widens with the reduction, as PIL's `resize(BILINEAR)` does, so a 2000-px
/// photo shrunk to 32 px is averaged, not aliased; an image already `S×S` is kept exactly.
public enum ResizePolicy: String, CaseIterable, Sendable {
    /// The shorter side to S, then the centre S×S (torchvision's `Resize(S)` +
    /// `CenterCrop(S)`): the evaluation view; training crops further (random resized crop).
    case shorter
    /// Both sides to S, the aspect ratio not kept: nothing is cut off.
    case squash

    /// The part of the source that becomes the working image: x, y, width, height in
    /// source pixels (fractional).
    func box(width w: Int, height h: Int) -> (Double, Double, Double, Double) {
        switch self {
        case .squash: return (0, 0, Double(w), Double(h))
        case .shorter:
            let s = Double(min(w, h))
            return ((Double(w) - s) / 2, (Double(h) - s) / 2, s, s)
        }
    }

    /// Writes `img` as `S×S` CHW bytes (channel planes) into `out`.
    public func apply(_ img: RGBImage, size S: Int, into out: UnsafeMutablePointer<UInt8>) {
        let (x0, y0, bw, bh) = box(width: img.width, height: img.height)
        let xs = ResizePolicy.taps(start: x0, length: bw, source: img.width, size: S)
        let ys = ResizePolicy.taps(start: y0, length: bh, source: img.height, size: S)
        let W = img.width
        // Horizontal pass over the rows the vertical taps need, then the vertical pass.
        let rowLo = ys.map(\.first).min()!, rowHi = ys.map { $0.first + $0.weights.count }.max()!
        var tmp = [Float](repeating: 0, count: (rowHi - rowLo) * S * 3)
        img.pixels.withUnsafeBufferPointer { src in
            for y in rowLo..<rowHi {
                let row = src.baseAddress! + y * W * 3
                let t = (y - rowLo) * S * 3
                for ox in 0..<S {
                    let tap = xs[ox]
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    for (k, wt) in tap.weights.enumerated() {
                        let p = row + (tap.first + k) * 3
                        r += wt * Float(p[0]); g += wt * Float(p[1]); b += wt * Float(p[2])
                    }
                    tmp[t + ox * 3] = r; tmp[t + ox * 3 + 1] = g; tmp[t + ox * 3 + 2] = b
                }
            }
        }
        let plane = S * S
        for oy in 0..<S {
            let tap = ys[oy]
            for ox in 0..<S {
                for c in 0..<3 {
                    var v: Float = 0
                    for (k, wt) in tap.weights.enumerated() { v += wt * tmp[((tap.first + k - rowLo) * S + ox) * 3 + c] }
                    out[c * plane + oy * S + ox] = UInt8(min(max(v.rounded(), 0), 255))
                }
            }
        }
    }

    struct Tap { var first: Int; var weights: [Float] }

    /// Per output pixel, the source pixels and normalised weights of a triangle filter of
    /// radius max(1, scale) centred on the output pixel's centre; pixels outside the image
    /// are dropped and the rest renormalised (PIL's edge rule).
    static func taps(start: Double, length: Double, source n: Int, size S: Int) -> [Tap] {
        let scale = length / Double(S)
        let support = max(1, scale)
        return (0..<S).map { o in
            let centre = start + (Double(o) + 0.5) * scale
            let lo = max(0, Int((centre - support).rounded(.down))), hi = min(n - 1, Int((centre + support).rounded(.up)))
            var first = -1, ws: [Double] = []
            for j in lo...max(lo, hi) {
                let w = 1 - abs(Double(j) + 0.5 - centre) / support
                guard w > 0 else { if first >= 0 { ws.append(0) }; continue }
                if first < 0 { first = j }
                ws.append(w)
            }
            while ws.last == 0 { ws.removeLast() }
            if first < 0 {   // the centre lies outside the image: nearest edge pixel
                return Tap(first: min(max(Int(centre), 0), n - 1), weights: [1])
            }
            let sum = ws.reduce(0, +)
            return Tap(first: first, weights: ws.map { Float($0 / sum) })
        }
    }
}
