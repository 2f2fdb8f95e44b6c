import Foundation

/// Labelled images of `channels × imageSize × imageSize` pixels, each readable as bytes or
/// as CHW floats in [0, 1]. Loaders, augmentation and previews see data only through this.
public protocol Dataset: Sendable {
    var count: Int { get }
    var imageSize: Int { get }
    var channels: Int { get }
    var numClasses: Int { get }
    func label(at i: Int) -> Int
    /// Calls `body` with image i's CHW pixel bytes (channel planes, row-major).
    func withPixels<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R
}

extension Dataset {
    public var pixelsPerImage: Int { channels * imageSize * imageSize }

    /// Image i as CHW floats in [0, 1].
    public func copyImage(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        let n = pixelsPerImage
        withPixels(i) { p in for k in 0..<n { out[k] = Float(p[k]) * (1 / 255) } }
    }

    /// Image i's CHW pixel bytes, copied out (tests, previews).
    public func pixels(_ i: Int) -> [UInt8] {
        withPixels(i) { Array(UnsafeBufferPointer(start: $0, count: pixelsPerImage)) }
    }

    /// Per-channel mean and standard deviation of all pixels, in [0, 1] units: the
    /// normalisation constants of a dataset (compute them on the pre-train pool).
    public func channelStatistics() -> (mean: [Float], std: [Float]) {
        let hw = imageSize * imageSize, C = channels
        var s = [Double](repeating: 0, count: C), ss = s
        for i in 0..<count {
            withPixels(i) { p in
                for c in 0..<C {
                    // Integer sums are exact, so the result does not depend on summation order.
                    var a = 0, b = 0
                    for k in 0..<hw { let v = Int(p[c * hw + k]); a += v; b += v * v }
                    s[c] += Double(a); ss[c] += Double(b)
                }
            }
        }
        let n = Double(max(1, count * hw))
        let mean = s.map { $0 / n / 255 }
        let std = zip(ss, mean).map { max($0 / n / 65025 - $1 * $1, 0).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// How many images of each class (label-budget and balance checks).
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: numClasses)
        for i in 0..<count { counts[label(at: i)] += 1 }
        return counts
    }
}
