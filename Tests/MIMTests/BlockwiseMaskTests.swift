import MIM
import Tensor
import XCTest

final class BlockwiseMaskTests: XCTestCase {
    /// BEiT's loop stops when 10 rectangles in a row add nothing, so a few masks end short
    /// of the target; never above it, and on grids of useful size nearly always at it.
    func testReachesTheTargetCountAndNeverExceedsIt() throws {
        var rng = PRNG(seed: 4)
        for (image, model, masked) in [(192, 4, 16), (192, 4, 32), (32, 4, 4), (224, 16, 16)] {
            for ratio in [0.1, 0.3, 0.5, 0.7] {
                let spec = maskSpec(.blockwise, image: image, model: model, masked: masked, ratio: ratio)
                var gen = try MaskGenerator(spec)
                var reached = 0, total = 0
                let draws = 40
                for _ in 0..<draws {
                    let count = maskPatchGrid(of: gen.next(&rng), spec: spec).reduce(0, +)
                    XCTAssertLessThanOrEqual(count, spec.maskCount)
                    XCTAssertGreaterThanOrEqual(count, spec.maskCount * 3 / 4, "\(image)/\(masked) r=\(ratio)")
                    total += count
                    if count == spec.maskCount { reached += 1 }
                }
                XCTAssertGreaterThanOrEqual(reached, draws * 3 / 4, "\(image)/\(masked) r=\(ratio)")
                XCTAssertEqual(Double(total) / Double(draws * spec.maskCount), 1, accuracy: 0.03)
            }
        }
    }

    /// The count distribution matches the Python original (avgdist_ref.py's verbatim port,
    /// 20 000 masks): BEiT's pre-training geometry (14×14, 75 patches, ≥ 16 per block) ends
    /// short in 33.1 % of masks, mean 74.48; 12×12, 58 patches, ≥ 4 per block: 5.8 %, 57.94.
    func testCountDistributionMatchesBEiT() {
        for (side, target, minBlock, shortFraction, mean) in [(14, 75, 16, 0.331, 74.48), (12, 58, 4, 0.058, 57.94)] {
            let gen = BlockwiseMaskGenerator(height: side, width: side, numMaskingPatches: target, minNumPatches: minBlock)
            var rng = PRNG(seed: 8)
            let draws = 4000
            var short = 0, sum = 0
            for _ in 0..<draws {
                let c = gen.next(&rng).reduce(0) { $0 + Int($1) }
                XCTAssertLessThanOrEqual(c, target)
                sum += c
                if c < target { short += 1 }
            }
            // 4σ of a 4000-draw binomial fraction, and of the mean.
            XCTAssertEqual(Double(short) / Double(draws), shortFraction, accuracy: 0.03, "\(side)×\(side)")
            XCTAssertEqual(Double(sum) / Double(draws), mean, accuracy: 0.1, "\(side)×\(side)")
        }
    }

    func testDeterministicBySeed() throws {
        let spec = maskSpec(.blockwise, image: 192, model: 4, masked: 16, ratio: 0.4)
        func draw(_ seed: UInt64) throws -> [[Float]] {
            var gen = try MaskGenerator(spec)
            var rng = PRNG(seed: seed)
            return (0..<6).map { _ in gen.next(&rng) }
        }
        XCTAssertEqual(try draw(21), try draw(21))
        XCTAssertNotEqual(try draw(21), try draw(22))
    }

    /// Blocks are what make block-wise masks differ from random ones: on the same grid and
    /// count, masked patches have far more masked 4-neighbours.
    func testMaskedPatchesClump() throws {
        func neighbourFraction(_ type: MaskType) throws -> Double {
            let spec = maskSpec(type, image: 192, model: 16, masked: 16, ratio: 0.3)
            var gen = try MaskGenerator(spec)
            var rng = PRNG(seed: 6)
            var same = 0, all = 0
            let s = spec.maskGridSize
            for _ in 0..<50 {
                _ = gen.next(&rng)
                let m = gen.maskPatchGrid
                for y in 0..<s { for x in 0..<(s - 1) where m[y * s + x] == 1 { all += 1; same += Int(m[y * s + x + 1]) } }
            }
            return Double(same) / Double(all)
        }
        XCTAssertGreaterThan(try neighbourFraction(.blockwise), try neighbourFraction(.random) + 0.25)
    }

    /// A grid too small for any block (BEiT needs w < width and h < height) masks nothing
    /// and ends, rather than looping.
    func testGivesUpOnATinyGrid() {
        let gen = BlockwiseMaskGenerator(height: 1, width: 1, numMaskingPatches: 1)
        var rng = PRNG(seed: 0)
        XCTAssertEqual(gen.next(&rng), [0])
    }
}
