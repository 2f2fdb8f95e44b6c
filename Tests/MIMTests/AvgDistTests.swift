import MIM
import Tensor
import XCTest

final class AvgDistTests: XCTestCase {
    func testMatchesBruteForceOnRandomPixelMasks() {
        var rng = PRNG(seed: 12)
        for (w, h) in [(24, 24), (7, 13), (13, 7), (1, 9), (9, 1), (17, 5), (31, 29), (2, 2)] {
            for _ in 0..<8 {
                let density = Float(rng.uniform(0.05, 0.95))
                let mask = (0..<(w * h)).map { _ in rng.uniform() < density ? Float(1) : 0 }
                let fast = AvgDist.of(pixelMask: mask, width: w, height: h)
                let slow = bruteForceAvgDist(mask, width: w, height: h)
                XCTAssertEqual(fast == nil, slow == nil, "\(w)×\(h)")
                if let fast, let slow { XCTAssertEqual(fast, slow, accuracy: 1e-12, "\(w)×\(h)") }
            }
        }
    }

    func testMatchesBruteForceOnGeneratedMasks() throws {
        var rng = PRNG(seed: 13)
        for type in MaskType.allCases {
            for (image, model, masked, ratio) in [(48, 4, 8, 0.5), (48, 4, 16, 0.3), (45, 3, 9, 0.6), (35, 7, 7, 0.4),
                                                  (32, 4, 4, 0.9), (33, 1, 3, 0.2)] {
                // Grid masks exist at 0.75 on even mask grids only.
                if type == .grid && (image / masked) % 2 != 0 { continue }
                let spec = maskSpec(type, image: image, model: model, masked: masked, ratio: type == .grid ? 0.75 : ratio)
                var gen = try MaskGenerator(spec)
                for _ in 0..<3 {
                    let tokens = gen.next(&rng)
                    let pixels = MaskGenerator.pixelMask(tokens, gridSize: spec.gridSize, patchSize: model)
                    let fast = AvgDist.of(tokenMask: tokens, gridSize: spec.gridSize, patchSize: model)
                    let slow = bruteForceAvgDist(pixels, width: image, height: image)
                    XCTAssertEqual(fast == nil, slow == nil)
                    if let fast, let slow { XCTAssertEqual(fast, slow, accuracy: 1e-12, "\(type) \(image)/\(masked)") }
                }
            }
        }
    }

    func testSingleVisiblePixel() {
        let w = 11, h = 6, vx = 3, vy = 4
        var mask = [Float](repeating: 1, count: w * h)
        mask[vy * w + vx] = 0
        var sum = 0.0
        for y in 0..<h { for x in 0..<w where !(x == vx && y == vy) {
            sum += Double((x - vx) * (x - vx) + (y - vy) * (y - vy)).squareRoot()
        } }
        XCTAssertEqual(AvgDist.of(pixelMask: mask, width: w, height: h)!, sum / Double(w * h - 1), accuracy: 1e-12)
    }

    func testSingleMaskedPixelIsAtDistanceOne() {
        var mask = [Float](repeating: 0, count: 25)
        mask[12] = 1
        XCTAssertEqual(AvgDist.of(pixelMask: mask, width: 5, height: 5), 1)
        // A 4×4 token on a visible background: 12 border pixels at 1, 4 inner at 2.
        let token = MaskGenerator.pixelMask([0, 0, 0, 0, 1, 0, 0, 0, 0], gridSize: 3, patchSize: 4)
        XCTAssertEqual(AvgDist.of(pixelMask: token, width: 12, height: 12)!, 20.0 / 16, accuracy: 1e-12)
    }

    func testFullyMaskedIsUndefinedAndEmptyIsZero() {
        XCTAssertNil(AvgDist.of(pixelMask: [Float](repeating: 1, count: 16), width: 4, height: 4))
        XCTAssertEqual(AvgDist.of(pixelMask: [Float](repeating: 0, count: 16), width: 4, height: 4), 0)
    }

    func testStatsUsePopulationStdAndSkipUndefinedMasks() {
        var stats = AvgDistStats(imageSize: 10)
        for v in [1.0, 2.0, 3.0, 4.0] { stats.add(v, maskedFraction: 0.5) }
        stats.add(nil, maskedFraction: 1)
        XCTAssertEqual(stats.samples, 5)
        XCTAssertEqual(stats.defined, 4)
        XCTAssertEqual(stats.undefined, 1)
        XCTAssertEqual(stats.mean, 2.5, accuracy: 1e-12)
        XCTAssertEqual(stats.std, 1.25.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(stats.meanRel, 0.25, accuracy: 1e-12)
        XCTAssertEqual(stats.actualRatio, 0.6, accuracy: 1e-12)
        XCTAssertTrue(AvgDistStats(imageSize: 10).mean.isNaN)
    }

    /// paper/simmim.yaml figure3_avgdist (400 masks, scipy EDT): random, 192 px, model patch 4.
    /// Tolerances are about 4 standard errors at the sample counts used here.
    func testRandomMasksMatchTheCrossCheckGrid() throws {
        for (masked, ratio, expected, samples, tolerance) in [(32, 0.6, 15.35, 300, 0.5), (16, 0.5, 6.02, 100, 0.25),
                                                              (8, 0.8, 6.07, 50, 0.25), (64, 0.3, 21.90, 300, 1.5)] {
            let spec = maskSpec(.random, image: 192, model: 4, masked: masked, ratio: ratio)
            var rng = PRNG(seed: 2024)
            let stats = try AvgDist.estimate(spec, samples: samples, rng: &rng)
            XCTAssertEqual(stats.undefined, 0)
            XCTAssertEqual(stats.mean, expected, accuracy: tolerance, "patch \(masked), ratio \(ratio)")
            XCTAssertEqual(stats.meanRel, stats.mean / 192, accuracy: 1e-12)
        }
    }

    /// 64-px patches on 192 px: N = 9, so ratio 0.6 masks ceil(5.4) = 6 patches (2/3 of the
    /// image) and ratio 0.9 masks all 9, leaving AvgDist undefined for every mask.
    func testFewMaskPatchesRoundUpAndFullMasksAreCounted() throws {
        var rng = PRNG(seed: 5)
        let s6 = try AvgDist.estimate(maskSpec(.random, image: 192, model: 4, masked: 64, ratio: 0.6), samples: 20, rng: &rng)
        XCTAssertEqual(s6.actualRatio, 6.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(s6.undefined, 0)
        let s9 = try AvgDist.estimate(maskSpec(.random, image: 192, model: 4, masked: 64, ratio: 0.9), samples: 20, rng: &rng)
        XCTAssertEqual(s9.undefined, 20)
        XCTAssertEqual(s9.defined, 0)
        XCTAssertTrue(s9.mean.isNaN)
        XCTAssertEqual(s9.actualRatio, 1)
    }

    /// oracle/README.md §6, block-wise row (BEiT generator on the 12×12 grid of 16-px
    /// patches, round(ratio × 144) patches, ≥ 16 per block, 200 masks).
    func testBlockwiseMatchesTheOracle() {
        for (ratio, expected) in [(0.3, 16.37), (0.6, 25.68)] {
            let gen = BlockwiseMaskGenerator(height: 12, width: 12, numMaskingPatches: Int((ratio * 144).rounded()),
                                             minNumPatches: 16)
            var rng = PRNG(seed: 77)
            var stats = AvgDistStats(imageSize: 192)
            for _ in 0..<200 {
                let grid = gen.next(&rng).map(Float.init)
                let masked = grid.reduce(0, +)
                stats.add(AvgDist.of(tokenMask: grid, gridSize: 12, patchSize: 16), maskedFraction: Double(masked) / 144)
            }
            XCTAssertEqual(stats.mean, expected, accuracy: 1.2, "ratio \(ratio)")
        }
    }
}
