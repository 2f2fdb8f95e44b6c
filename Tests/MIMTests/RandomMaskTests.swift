import MIM
import Tensor
import XCTest

final class RandomMaskTests: XCTestCase {
    /// ceil(ratio × N) against integer arithmetic, for ratios k/100 on many grid sizes;
    /// covers the products that are integers in exact arithmetic but not in binary
    /// (0.6 × 25, 0.7 × 10, 0.3 × 10, 0.1 × 30 …).
    func testMaskCountIsCeilOfRatioTimesPatchCount() {
        for (image, masked) in [(32, 4), (32, 8), (32, 16), (40, 8), (192, 4), (192, 16), (192, 32), (192, 64),
                                (160, 32), (224, 32), (100, 10), (30, 3)] {
            let n = (image / masked) * (image / masked)
            for k in 1...99 {
                let s = maskSpec(.random, image: image, model: masked, masked: masked, ratio: Double(k) / 100)
                XCTAssertEqual(s.maskCount, (k * n + 99) / 100, "image \(image), patch \(masked), ratio \(k)/100")
            }
        }
        XCTAssertEqual(MaskSpec.ceilCount(ratio: 0.6, of: 25), 15)
        XCTAssertEqual(MaskSpec.ceilCount(ratio: 0.7, of: 10), 7)
        XCTAssertEqual(MaskSpec.ceilCount(ratio: 0.6, of: 36), 22)
        XCTAssertEqual(MaskSpec.ceilCount(ratio: 0.9, of: 9), 9)
    }

    func testEveryMaskHoldsExactlyTheCountUpsampled() throws {
        var rng = PRNG(seed: 1)
        for (image, model, masked) in [(32, 4, 4), (32, 4, 8), (32, 4, 16), (32, 2, 8), (192, 4, 32), (192, 4, 64),
                                       (48, 4, 12), (45, 3, 9), (64, 8, 16)] {
            for ratio in [0.05, 0.1, 0.3, 0.5, 0.6, 0.75, 0.9, 0.95] {
                let spec = maskSpec(.random, image: image, model: model, masked: masked, ratio: ratio)
                var gen = try MaskGenerator(spec)
                for _ in 0..<5 {
                    let tokens = gen.next(&rng)
                    let grid = maskPatchGrid(of: tokens, spec: spec)
                    XCTAssertEqual(grid.reduce(0, +), spec.maskCount, "\(image)/\(model)/\(masked) r=\(ratio)")
                    XCTAssertEqual(Int(tokens.reduce(0, +)), spec.maskCount * spec.scale * spec.scale)
                    XCTAssertEqual(grid, gen.maskPatchGrid.map(Int.init))
                }
            }
        }
    }

    func testUpsamplingMapsEachMaskPatchToItsTokens() throws {
        // 12-px image, model patch 2, mask patch 6: a 2×2 mask grid on a 6×6 token grid.
        let spec = maskSpec(.random, image: 12, model: 2, masked: 6, ratio: 0.25)
        var gen = try MaskGenerator(spec)
        var rng = PRNG(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<40 {
            let tokens = gen.next(&rng)
            let cell = gen.maskPatchGrid.firstIndex(of: 1)!
            seen.insert(cell)
            var expected = [Float](repeating: 0, count: 36)
            for ty in 0..<6 { for tx in 0..<6 where (ty / 3) * 2 + tx / 3 == cell { expected[ty * 6 + tx] = 1 } }
            XCTAssertEqual(tokens, expected)
        }
        XCTAssertEqual(seen, [0, 1, 2, 3])
        // Token mask to pixels: each token covers patch × patch pixels.
        let pixels = MaskGenerator.pixelMask([1, 0, 0, 1], gridSize: 2, patchSize: 2)
        XCTAssertEqual(pixels, [1, 1, 0, 0,
                                1, 1, 0, 0,
                                0, 0, 1, 1,
                                0, 0, 1, 1])
    }

    func testMasksAreDeterministicBySeed() throws {
        let spec = maskSpec(.random, image: 32, model: 4, masked: 8, ratio: 0.5)
        func draw(_ seed: UInt64) throws -> [[Float]] {
            var gen = try MaskGenerator(spec)
            var rng = PRNG(seed: seed)
            return (0..<8).map { _ in gen.next(&rng) }
        }
        XCTAssertEqual(try draw(7), try draw(7))
        XCTAssertNotEqual(try draw(7), try draw(8))
    }

    func testBatchFillMatchesSuccessiveDraws() throws {
        for type in MaskType.allCases {
            let spec = maskSpec(type, image: 32, model: 4, masked: 8, ratio: type == .grid ? 0.75 : 0.4)
            var a = try MaskGenerator(spec), b = try MaskGenerator(spec)
            var ra = PRNG(seed: 11), rb = PRNG(seed: 11)
            var batch = [Float](repeating: -1, count: 5 * a.tokenCount)
            batch.withUnsafeMutableBufferPointer { a.fill($0.baseAddress!, batch: 5, &ra) }
            let successive = (0..<5).flatMap { _ in b.next(&rb) }
            XCTAssertEqual(batch, successive, "\(type)")
        }
    }

    /// Each mask patch is picked with probability count / N (a uniform random subset).
    func testEveryMaskPatchIsEquallyLikely() throws {
        let spec = maskSpec(.random, image: 192, model: 4, masked: 32, ratio: 0.5)   // 18 of 36
        var gen = try MaskGenerator(spec)
        var rng = PRNG(seed: 5)
        let draws = 3000
        var hits = [Int](repeating: 0, count: 36)
        for _ in 0..<draws {
            var tmp = [Float](repeating: 0, count: gen.tokenCount)
            tmp.withUnsafeMutableBufferPointer { gen.fill($0.baseAddress!, &rng) }
            for (i, m) in gen.maskPatchGrid.enumerated() { hits[i] += Int(m) }
        }
        for h in hits { XCTAssertEqual(Double(h) / Double(draws), 0.5, accuracy: 0.04) }
    }
}
