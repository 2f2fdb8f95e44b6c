import Foundation
import Tensor

/// BEiT's block-wise masking (microsoft/unilm, beit/masking_generator.py `MaskingGenerator`),
/// ported draw for draw with Python's `random` replaced by `PRNG`:
/// rectangles of random area in [minNumPatches, remaining] and aspect ratio log-uniform in
/// [minAspect, maxAspect] are dropped at random positions; a rectangle counts if it adds
/// between 1 and `remaining` new patches. Up to 10 attempts per rectangle; when all 10 add
/// nothing the mask is returned as it is, so (as in BEiT) a crowded or tiny grid can end
/// below the target count.
public struct BlockwiseMaskGenerator: Sendable, Equatable {
    public let height: Int
    public let width: Int
    public let numMaskingPatches: Int
    public let minNumPatches: Int
    public let maxNumPatches: Int
    public let logAspectMin: Double
    public let logAspectMax: Double

    public init(height: Int, width: Int, numMaskingPatches: Int, minNumPatches: Int = 4,
                maxNumPatches: Int? = nil, minAspect: Double = 0.3, maxAspect: Double? = nil) {
        precondition(height > 0 && width > 0 && minAspect > 0)
        self.height = height
        self.width = width
        self.numMaskingPatches = numMaskingPatches
        self.minNumPatches = minNumPatches
        self.maxNumPatches = maxNumPatches ?? numMaskingPatches
        logAspectMin = Foundation.log(minAspect)
        logAspectMax = Foundation.log(maxAspect ?? 1 / minAspect)
    }

    /// A fresh mask (height × width, row-major, 1 = masked).
    public func next(_ rng: inout PRNG) -> [UInt8] {
        var grid = [UInt8](repeating: 0, count: height * width)
        _ = generate(into: &grid, &rng)
        return grid
    }

    /// Adds blocks to `grid` (expected all zero) and returns how many patches it masked.
    @discardableResult
    public func generate(into grid: inout [UInt8], _ rng: inout PRNG) -> Int {
        precondition(grid.count == height * width)
        var maskCount = 0
        while maskCount < numMaskingPatches {
            let maxMaskPatches = min(numMaskingPatches - maskCount, maxNumPatches)
            let delta = addBlock(&grid, maxMaskPatches: maxMaskPatches, &rng)
            if delta == 0 { break }
            maskCount += delta
        }
        return maskCount
    }

    private func addBlock(_ grid: inout [UInt8], maxMaskPatches: Int, _ rng: inout PRNG) -> Int {
        var delta = 0
        for _ in 0..<10 {
            // Python's random.uniform(a, b) = a + (b - a)·random(), also when b < a.
            let targetArea = Double(minNumPatches) + Double(maxMaskPatches - minNumPatches) * rng.uniformDouble()
            let aspect = Foundation.exp(logAspectMin + (logAspectMax - logAspectMin) * rng.uniformDouble())
            // int(round(x)) in Python 3 rounds halves to even.
            let h = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let w = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w < width && h < height {
                let top = rng.int(height - h + 1), left = rng.int(width - w + 1)
                var alreadyMasked = 0
                for i in top..<(top + h) { for j in left..<(left + w) { alreadyMasked += Int(grid[i * width + j]) } }
                let added = h * w - alreadyMasked
                if added > 0 && added <= maxMaskPatches {
                    for i in top..<(top + h) {
                        for j in left..<(left + w) where grid[i * width + j] == 0 {
                            grid[i * width + j] = 1
                            delta += 1
                        }
                    }
                }
                if delta > 0 { break }
            }
        }
        return delta
    }
}
