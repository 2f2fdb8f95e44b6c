import Foundation
import XCTest
import MIM
import Tensor
import Train

/// The paper tables' protocol (experiments/protocol48-default.yaml) has SimMIM's mask
/// geometry: 6×6 mask patches at the default 8 px (the paper's 32 px on 192 px), 12×12 at
/// 4 px and 3×3 at 16 px.
final class Protocol48Tests: XCTestCase {
    static let config: RunConfig = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("experiments/protocol48-default.yaml").path
        return try! RunConfig.load(path: path)
    }()

    func spec(_ type: MaskType, patch: Int, ratio: Double) -> MaskSpec {
        var s = Self.config.maskSpec
        s.type = type; s.maskedPatchSize = patch; s.maskRatio = ratio
        return s
    }

    func testProtocol() {
        let c = Self.config
        XCTAssertEqual(c.data.imageSize, 48)
        XCTAssertEqual(c.encoder.vit.grid, 12)
        XCTAssertEqual(c.maskSpec.maskGridSize, 6)
        XCTAssertEqual(c.mask.ratio, 0.6)
    }

    /// The paper's 2×2, 3×3, 4×4 squares of 36 mask patches, exactly, on every draw.
    func testSquareMasksAreThePapers() throws {
        var rng = PRNG(seed: 48)
        for (ratio, cells) in [(0.11, 4), (0.25, 9), (0.44, 16)] {
            var g = try MaskGenerator(spec(.square, patch: 8, ratio: ratio))
            for _ in 0..<20 {
                let mask = g.next(&rng)
                let pixels = MaskGenerator.pixelMask(mask, gridSize: 12, patchSize: 4)
                XCTAssertEqual(pixels.count, 48 * 48)
                XCTAssertEqual(pixels.filter { $0 != 0 }.count, cells * 8 * 8, "ratio \(ratio)")
                XCTAssertEqual(Double(pixels.filter { $0 != 0 }.count) / Double(pixels.count), Double(cells) / 36, accuracy: 1e-12)
            }
            XCTAssertEqual(try AchievedRatio.of(spec(.square, patch: 8, ratio: ratio), rng: &rng), Double(cells) / 36, accuracy: 1e-12)
        }
    }

    /// Random masks hold ceil(ratio × 36) of the 6×6 mask patches at the default 8 px.
    func testRandomMasksHoldCeilRatioOf36() throws {
        var rng = PRNG(seed: 36)
        for (ratio, cells) in [(0.1, 4), (0.2, 8), (0.3, 11), (0.4, 15), (0.5, 18), (0.6, 22), (0.7, 26), (0.8, 29), (0.9, 33)] {
            XCTAssertEqual(Int((ratio * 36).rounded(.up)), cells)
            var g = try MaskGenerator(spec(.random, patch: 8, ratio: ratio))
            XCTAssertEqual(g.spec.maskGridSize, 6)
            for _ in 0..<20 {
                _ = g.next(&rng)
                XCTAssertEqual(g.maskPatchGrid.count, 36)
                XCTAssertEqual(g.maskPatchGrid.filter { $0 != 0 }.count, cells, "ratio \(ratio)")
            }
        }
    }

    /// The 4- and 16-px masked patches are the paper's 16 and 64 px grids: 12×12 and 3×3.
    func testMaskGridsOfTheOtherPatchSizes() throws {
        var rng = PRNG(seed: 12)
        var fine = try MaskGenerator(spec(.random, patch: 4, ratio: 0.6))
        XCTAssertEqual(fine.spec.maskGridSize, 12)
        _ = fine.next(&rng)
        XCTAssertEqual(fine.maskPatchGrid.count, 144)
        XCTAssertEqual(fine.maskPatchGrid.filter { $0 != 0 }.count, 87)   // ceil(0.6 × 144)
        var coarse = try MaskGenerator(spec(.random, patch: 16, ratio: 0.2))
        XCTAssertEqual(coarse.spec.maskGridSize, 3)
        let mask = coarse.next(&rng)
        XCTAssertEqual(coarse.maskPatchGrid.count, 9)
        XCTAssertEqual(coarse.maskPatchGrid.filter { $0 != 0 }.count, 2)  // 0.1 and 0.2 no longer collapse
        XCTAssertEqual(mask.filter { $0 != 0 }.count, 2 * 16, "each 16-px mask patch covers 4×4 tokens")
    }
}
