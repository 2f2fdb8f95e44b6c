import Tensor

/// AvgDist (SimMIM, Figure 3): the mean, over masked pixels, of the Euclidean distance from
/// the pixel's centre to the nearest visible pixel's centre. A masked pixel next to a visible
/// one is at distance 1. The paper reads it as how far the model has to "reach" to recover
/// a masked pixel; the good fine-tuning settings sit on a ridge at AvgDist 10–20 px (192 px).
public enum AvgDist {
    /// AvgDist of one pixel-level mask (`side × side`, row-major, non-zero = masked), in
    /// pixels. `nil` when no pixel is visible: there is nothing to measure the distance to.
    /// A mask with no masked pixel gives 0, as the reference (avgdist_ref.py) does.
    public static func of(pixelMask: [Float], width: Int, height: Int) -> Double? {
        precondition(pixelMask.count == width * height,
                     "mask has \(pixelMask.count) values, expected \(width)×\(height)")
        var masked = 0
        for m in pixelMask where m != 0 { masked += 1 }
        if masked == 0 { return 0 }
        if masked == pixelMask.count { return nil }
        let d2 = DistanceTransform.squaredEuclidean(width: width, height: height) { pixelMask[$0] == 0 }
        var sum = 0.0
        for i in 0..<pixelMask.count where pixelMask[i] != 0 { sum += d2[i].squareRoot() }
        return sum / Double(masked)
    }

    /// AvgDist of a token mask (g×g, as `MaskGenerator.next` returns) whose tokens cover
    /// `patchSize × patchSize` pixels.
    public static func of(tokenMask: [Float], gridSize: Int, patchSize: Int) -> Double? {
        let side = gridSize * patchSize
        return of(pixelMask: MaskGenerator.pixelMask(tokenMask, gridSize: gridSize, patchSize: patchSize),
                  width: side, height: side)
    }

    /// Draws `samples` masks of `spec` and summarises their AvgDist.
    public static func estimate(_ spec: MaskSpec, samples: Int, rng: inout PRNG) throws -> AvgDistStats {
        var generator = try MaskGenerator(spec)
        var stats = AvgDistStats(imageSize: spec.imageSize)
        for _ in 0..<samples { stats.add(mask: generator.next(&rng), spec: spec) }
        return stats
    }
}

/// Running summary of AvgDist over sampled masks, aggregated as avgdist_ref.py does: the
/// per-mask AvgDist values are averaged, with their population standard deviation (ddof 0);
/// masks with no visible pixel are left out of both and counted in `undefined`.
public struct AvgDistStats: Sendable, Equatable {
    public let imageSize: Int
    /// Masks seen, defined or not.
    public private(set) var samples = 0
    /// Masks with no visible pixel.
    public private(set) var undefined = 0
    private var count = 0, runningMean = 0.0, m2 = 0.0   // Welford, over defined masks
    private var maskedFractionSum = 0.0

    public init(imageSize: Int) { self.imageSize = imageSize }

    /// Adds one mask's AvgDist (`nil` = undefined) and the fraction of its pixels masked.
    public mutating func add(_ avgDist: Double?, maskedFraction: Double) {
        samples += 1
        maskedFractionSum += maskedFraction
        guard let a = avgDist, a.isFinite else { undefined += 1; return }
        count += 1
        let delta = a - runningMean
        runningMean += delta / Double(count)
        m2 += delta * (a - runningMean)
    }

    /// Measures and adds one token mask of `spec`.
    public mutating func add(mask tokenMask: [Float], spec: MaskSpec) {
        var masked = 0
        for m in tokenMask where m != 0 { masked += 1 }
        add(AvgDist.of(tokenMask: tokenMask, gridSize: spec.gridSize, patchSize: spec.modelPatchSize),
            maskedFraction: Double(masked) / Double(max(1, tokenMask.count)))
    }

    /// Masks with a defined AvgDist.
    public var defined: Int { count }
    /// Mean AvgDist in pixels; NaN when no mask was defined.
    public var mean: Double { count > 0 ? runningMean : .nan }
    /// Population standard deviation across masks, in pixels; NaN when no mask was defined.
    public var std: Double { count > 0 ? (m2 / Double(count)).squareRoot() : .nan }
    /// AvgDist relative to the image side, so runs at different image sizes share an axis.
    public var meanRel: Double { mean / Double(imageSize) }
    public var stdRel: Double { std / Double(imageSize) }
    /// Mean fraction of pixels masked: above the nominal ratio when ceil(ratio × N) rounds
    /// up on few mask patches, below it when block-wise masking stops early.
    public var actualRatio: Double { samples > 0 ? maskedFractionSum / Double(samples) : .nan }
}
