import Tensor

/// The fraction of the image a mask distribution actually hides. The nominal `maskRatio`
/// is rounded by every generator: random masks hold ceil(ratio × N) of N mask patches, a
/// square is k×k with k = round(√(ratio × N)), block-wise masks can end short of their
/// target. Tables print it beside the nominal ratio where the two differ.
public enum AchievedRatio {
    /// Exact for random, grid and square masks (every draw hides the same count); for block-wise
    /// masks the mean over `samples` draws from `rng`.
    public static func of(_ spec: MaskSpec, samples: Int = 400, rng: inout PRNG) throws -> Double {
        // MaskAlign's 0% row hides nothing (no generator takes a ratio of 0).
        if spec.maskRatio == 0 { return 0 }
        var generator = try MaskGenerator(spec)
        let n = Double(spec.maskPatchCount)
        switch spec.type {
        case .random, .grid: return Double(generator.maskCount) / n
        case .square: return Double(generator.squareSide * generator.squareSide) / n
        case .blockwise:
            var hidden = 0.0
            for _ in 0..<max(1, samples) {
                let mask = generator.next(&rng)
                hidden += Double(mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) / Double(mask.count)
            }
            return hidden / Double(max(1, samples))
        }
    }
}
