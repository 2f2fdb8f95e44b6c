import Data
import Tensor

/// SimMIM Table 4's "colour clustering" target: a palette of K colours fitted by k-means on
/// raw pixels of the pre-training pool; a pixel's target is the index of its nearest
/// palette colour (squared Euclidean distance, ties to the lower index).
public struct ColorPalette: Codable, Equatable, Sendable {
    public let channels: Int
    /// K colours, colour-major: `colors[i·channels + c]`.
    public let colors: [Float]

    public init(colors: [Float], channels: Int) {
        precondition(channels > 0 && !colors.isEmpty && colors.count % channels == 0, "ColorPalette: \(colors.count) values for \(channels) channels")
        self.colors = colors
        self.channels = channels
    }

    public var count: Int { colors.count / channels }

    public func color(_ i: Int) -> [Float] { Array(colors[(i * channels)..<((i + 1) * channels)]) }

    /// Index of the palette colour nearest to `pixel` (`channels` values).
    @inline(__always) public func nearest(_ pixel: UnsafePointer<Float>) -> Int {
        colors.withUnsafeBufferPointer { ColorPalette.nearest(pixel, $0.baseAddress!, count: count, channels: channels) }
    }

    public func nearest(_ pixel: [Float]) -> Int {
        precondition(pixel.count == channels)
        return pixel.withUnsafeBufferPointer { nearest($0.baseAddress!) }
    }

    @inline(__always)
    static func nearest(_ x: UnsafePointer<Float>, _ centres: UnsafePointer<Float>, count k: Int, channels C: Int) -> Int {
        var best = 0, bestD = Float.infinity
        for i in 0..<k {
            var d: Float = 0
            for c in 0..<C { let e = x[c] - centres[i * C + c]; d += e * e }
            if d < bestD { bestD = d; best = i }
        }
        return best
    }

    /// k-means on `pixels` (pixel-major, `channels` values each): up to `sampleSize` pixels
    /// drawn without replacement, k-means++ seeding, then Lloyd's algorithm until no
    /// assignment changes or `maxIterations`. Deterministic for a seed (and independent of
    /// the thread count: only the assignment step is parallel). A cluster that empties keeps
    /// its previous centre; fewer distinct colours than `k` give repeated colours.
    public static func fit(pixels: [Float], channels: Int = 3, k: Int, seed: UInt64,
                           sampleSize: Int = 50_000, maxIterations: Int = 50) -> ColorPalette {
        let C = channels, total = pixels.count / C
        precondition(k >= 1 && total >= 1 && pixels.count % C == 0, "ColorPalette.fit: \(pixels.count) values, \(C) channels, k = \(k)")
        var rng = PRNG(seed: seed)
        var x: [Float]
        if total <= sampleSize {
            x = pixels
        } else {
            // Partial Fisher–Yates over the pixel indices: a uniform sample without replacement.
            var idx = Array(0..<total)
            for i in 0..<sampleSize { idx.swapAt(i, i + rng.int(total - i)) }
            x = [Float](repeating: 0, count: sampleSize * C)
            for i in 0..<sampleSize { for c in 0..<C { x[i * C + c] = pixels[idx[i] * C + c] } }
        }
        let n = x.count / C

        // k-means++: the first centre uniformly, each next one with probability ∝ D², the
        // squared distance to the nearest centre chosen so far.
        var centres = [Float](repeating: 0, count: k * C)
        var d2 = [Double](repeating: .infinity, count: n)
        var pick = rng.int(n)
        for j in 0..<k {
            for c in 0..<C { centres[j * C + c] = x[pick * C + c] }
            var sum = 0.0
            for i in 0..<n {
                var d = 0.0
                for c in 0..<C { let e = Double(x[i * C + c] - centres[j * C + c]); d += e * e }
                d2[i] = min(d2[i], d)
                sum += d2[i]
            }
            if j == k - 1 { break }
            if sum == 0 { pick = rng.int(n); continue }
            let u = rng.uniformDouble() * sum
            var acc = 0.0
            pick = n - 1
            for i in 0..<n { acc += d2[i]; if acc > u { pick = i; break } }
        }

        // Lloyd's iterations.
        var assign = [Int32](repeating: -1, count: n)
        for _ in 0..<maxIterations {
            var changed = 0
            centres.withUnsafeBufferPointer { cp in
                x.withUnsafeBufferPointer { xp in
                    assign.withUnsafeMutableBufferPointer { ap in
                        let A = ap.baseAddress!, X = xp.baseAddress!, CP = cp.baseAddress!
                        var changedPerChunk = [Int](repeating: 0, count: 64)
                        changedPerChunk.withUnsafeMutableBufferPointer { chp in
                            let CH = chp.baseAddress!
                            let parts = min(64, max(1, Parallel.threads))
                            Parallel.forEach(parts) { part in
                                let lo = n * part / parts, hi = n * (part + 1) / parts
                                for i in lo..<hi {
                                    let a = Int32(nearest(X + i * C, CP, count: k, channels: C))
                                    if a != A[i] { A[i] = a; CH[part] += 1 }
                                }
                            }
                        }
                        changed = changedPerChunk.reduce(0, +)
                    }
                }
            }
            if changed == 0 { break }
            var sums = [Double](repeating: 0, count: k * C), counts = [Int](repeating: 0, count: k)
            for i in 0..<n {
                let a = Int(assign[i])
                counts[a] += 1
                for c in 0..<C { sums[a * C + c] += Double(x[i * C + c]) }
            }
            for j in 0..<k where counts[j] > 0 {
                for c in 0..<C { centres[j * C + c] = Float(sums[j * C + c] / Double(counts[j])) }
            }
        }
        return ColorPalette(colors: centres, channels: C)
    }

    /// The palette of a pre-training pool: k-means on `samples` pixels drawn uniformly (with
    /// replacement) from the dataset's images, as raw [0, 1] colours — before any crop or
    /// normalisation, so every run of a sweep with the same seed shares it.
    public static func fit(dataset: any Dataset, k: Int, seed: UInt64, samples: Int = 50_000,
                           maxIterations: Int = 50) -> ColorPalette {
        precondition(dataset.count > 0 && samples > 0, "ColorPalette.fit: empty dataset or sample")
        var rng = PRNG(seed: seed).fork("palette-pixels")
        let C = dataset.channels, hw = dataset.imageSize * dataset.imageSize
        var pixels = [Float](repeating: 0, count: samples * C)
        for i in 0..<samples {
            let image = rng.int(dataset.count), at = rng.int(hw)
            dataset.withPixels(image) { p in for c in 0..<C { pixels[i * C + c] = Float(p[c * hw + at]) / 255 } }
        }
        return fit(pixels: pixels, channels: C, k: k, seed: seed, sampleSize: samples, maxIterations: maxIterations)
    }
}
