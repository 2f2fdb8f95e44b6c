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
        let W = img.width, plane = S * S
        if W == S && img.height == S {   // already the working size: the pixels as they are
            img.pixels.withUnsafeBufferPointer { src in
                for k in 0..<plane { for c in 0..<3 { out[c * plane + k] = src[3 * k + c] } }
            }
            return
        }
        let (x0, y0, bw, bh) = box(width: W, height: img.height)
        let xs = Taps(start: x0, length: bw, source: W, size: S)
        let ys = Taps(start: y0, length: bh, source: img.height, size: S)
        // Horizontal pass over the rows the vertical taps need (into channel planes), then
        // the vertical pass, a row of output at a time.
        let rowLo = ys.first.min()!, rowHi = zip(ys.first, ys.count).map { $0 + $1 }.max()!
        let rows = rowHi - rowLo
        var tmp = [Float](repeating: 0, count: 3 * rows * S)
        var acc = [Float](repeating: 0, count: S)
        img.pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in rowLo..<rowHi {
                    let row = src.baseAddress! + y * W * 3, r0 = (y - rowLo) * S
                    for ox in 0..<S {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        var p = row + xs.first[ox] * 3, w = xs.offset[ox]
                        for _ in 0..<xs.count[ox] {
                            let wt = xs.weights[w]
                            r += wt * Float(p[0]); g += wt * Float(p[1]); b += wt * Float(p[2])
                            p += 3; w += 1
                        }
                        t[r0 + ox] = r; t[rows * S + r0 + ox] = g; t[2 * rows * S + r0 + ox] = b
                    }
                }
                acc.withUnsafeMutableBufferPointer { a in
                    for c in 0..<3 {
                        let tc = t.baseAddress! + c * rows * S
                        for oy in 0..<S {
                            for ox in 0..<S { a[ox] = 0 }
                            var w = ys.offset[oy]
                            for k in 0..<ys.count[oy] {
                                let wt = ys.weights[w], line = tc + (ys.first[oy] + k - rowLo) * S
                                for ox in 0..<S { a[ox] += wt * line[ox] }
                                w += 1
                            }
                            let o = out + c * plane + oy * S
                            for ox in 0..<S { o[ox] = UInt8(min(max(a[ox].rounded(), 0), 255)) }
                        }
                    }
                }
            }
        }
    }

    /// Per output pixel, the source pixels and normalised weights of a triangle filter of
    /// radius max(1, scale) centred on the output pixel's centre; pixels outside the image
    /// are dropped and the rest renormalised (PIL's edge rule). Flat arrays: output o uses
    /// `count[o]` weights from `weights[offset[o]]` on source pixels from `first[o]`.
    struct Taps {
        var first: [Int] = [], count: [Int] = [], offset: [Int] = [], weights: [Float] = []

        init(start: Double, length: Double, source n: Int, size S: Int) {
            let scale = length / Double(S)
            let support = max(1, scale)
            for o in 0..<S {
                let centre = start + (Double(o) + 0.5) * scale
                let lo = max(0, Int((centre - support).rounded(.down)))
                let hi = min(n - 1, Int((centre + support).rounded(.up)))
                var f = -1, ws: [Double] = []
                for j in lo...max(lo, hi) {
                    let w = 1 - abs(Double(j) + 0.5 - centre) / support
                    guard w > 0 else { if f >= 0 { ws.append(0) }; continue }
                    if f < 0 { f = j }
                    ws.append(w)
                }
                while ws.last == 0 { ws.removeLast() }
                if f < 0 { f = min(max(Int(centre), 0), n - 1); ws = [1] }   // centre off the image: nearest edge
                let sum = ws.reduce(0, +)
                first.append(f); count.append(ws.count); offset.append(weights.count)
                weights += ws.map { Float($0 / sum) }
            }
        }
    }
}
