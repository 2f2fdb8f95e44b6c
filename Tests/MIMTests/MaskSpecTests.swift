import MIM
import Tensor
import XCTest

final class MaskSpecTests: XCTestCase {
    private func spec(_ image: Int, _ model: Int, _ masked: Int, _ ratio: Double = 0.6,
                      _ type: MaskType = .random) -> MaskSpec {
        MaskSpec(type: type, imageSize: image, modelPatchSize: model, maskedPatchSize: masked, maskRatio: ratio)
    }

    private func error(of s: MaskSpec, file: StaticString = #filePath, line: UInt = #line) -> MaskSpecError? {
        do { try s.validate() } catch let e as MaskSpecError { return e } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    func testValidGeometriesPass() throws {
        for (image, model, masked) in [(192, 4, 32), (192, 4, 4), (192, 4, 64), (192, 4, 192), (32, 4, 8), (45, 3, 15)] {
            XCTAssertNoThrow(try spec(image, model, masked).validate(), "\(image)/\(model)/\(masked)")
        }
        let s = spec(192, 4, 32)
        XCTAssertEqual(s.gridSize, 48)
        XCTAssertEqual(s.maskGridSize, 6)
        XCTAssertEqual(s.scale, 8)
        XCTAssertEqual(s.maskPatchCount, 36)
        XCTAssertEqual(s.maskCount, 22)   // ceil(0.6 × 36) = ceil(21.6)
    }

    func testMaskedPatchThatDoesNotDivideTheImage() {
        let e = error(of: spec(32, 4, 12))
        XCTAssertEqual(e?.field, .maskedPatchSize)
        XCTAssertEqual(e?.description, "mask.patch = 12 does not divide data.image_size = 32; valid: 4, 8, 16, 32")
    }

    func testMaskedPatchThatIsNotAMultipleOfTheModelPatch() {
        let e = error(of: spec(48, 4, 6))
        XCTAssertEqual(e?.field, .maskedPatchSize)
        XCTAssertEqual(e?.description,
                       "mask.patch = 6 is not a multiple of encoder.patch = 4; valid: 4, 8, 12, 16, 24, 48")
    }

    func testModelPatchThatDoesNotDivideTheImage() {
        let e = error(of: spec(30, 4, 8))
        XCTAssertEqual(e?.field, .modelPatchSize)
        XCTAssertEqual(e?.description, "encoder.patch = 4 does not divide data.image_size = 30; valid: 1, 2, 3, 5, 6, 10, 15, 30")
    }

    func testRatioOutsideTheOpenUnitInterval() {
        for r in [0.0, 1.0, -0.1, 1.5, .nan, .infinity] {
            let e = error(of: spec(32, 4, 8, r))
            XCTAssertEqual(e?.field, .maskRatio, "ratio \(r)")
            XCTAssertTrue(e?.description.contains("valid: 0 < ratio < 1") ?? false)
        }
    }

    func testNonPositiveSizes() {
        XCTAssertEqual(error(of: spec(0, 4, 8))?.field, .imageSize)
        XCTAssertEqual(error(of: spec(32, 0, 8))?.field, .modelPatchSize)
        XCTAssertEqual(error(of: spec(32, 4, -8))?.field, .maskedPatchSize)
    }

    func testMaskTypeParsing() throws {
        XCTAssertEqual(try MaskType(parsing: "random"), .random)
        XCTAssertEqual(try MaskType(parsing: "Square"), .square)
        XCTAssertEqual(try MaskType(parsing: "block-wise"), .blockwise)
        XCTAssertEqual(try MaskType(parsing: "blockwise"), .blockwise)
        XCTAssertThrowsError(try MaskType(parsing: "checkerboard")) { e in
            XCTAssertEqual((e as? MaskSpecError)?.field, .maskType)
            XCTAssertEqual("\(e)", "mask.type = 'checkerboard' is not a mask type; valid: random, square, block-wise, grid")
        }
    }

    /// MAE's grid sampling: three of every 2×2 mask patches, the top-left one visible, on
    /// the token grid after upsampling; only at ratio 0.75 and on an even mask grid.
    func testGridMasks() throws {
        var g = try MaskGenerator(MaskSpec(type: .grid, imageSize: 32, modelPatchSize: 4, maskedPatchSize: 8, maskRatio: 0.75))
        var r = PRNG(seed: 0)
        let m = g.next(&r)
        XCTAssertEqual(m.count, 64)
        for ty in 0..<8 { for tx in 0..<8 {
            XCTAssertEqual(m[ty * 8 + tx], (ty / 2) % 2 == 0 && (tx / 2) % 2 == 0 ? 0 : 1, "token (\(ty), \(tx))")
        } }
        XCTAssertEqual(g.maskCount, 12)
        XCTAssertEqual(try AchievedRatio.of(g.spec, rng: &r), 0.75)
        XCTAssertThrowsError(try MaskSpec(type: .grid, imageSize: 32, modelPatchSize: 4, maskedPatchSize: 8, maskRatio: 0.6).validate()) {
            XCTAssertEqual(($0 as? MaskSpecError)?.field, .maskRatio)
            XCTAssert("\($0)".contains("valid: 0.75"), "\($0)")
        }
        XCTAssertThrowsError(try MaskSpec(type: .grid, imageSize: 48, modelPatchSize: 4, maskedPatchSize: 16, maskRatio: 0.75).validate()) {
            XCTAssertEqual(($0 as? MaskSpecError)?.field, .maskedPatchSize)
            XCTAssert("\($0)".contains("3 mask patches a side") && "\($0)".contains("valid: 4, 8, 12, 24"), "\($0)")
        }
    }

    func testGeneratorRefusesBadGeometry() {
        XCTAssertThrowsError(try MaskGenerator(spec(32, 4, 12)))
        XCTAssertThrowsError(try MaskGenerator(spec(32, 4, 8, 1.0)))
    }

    func testMessagesCanNameCommandLineOptions() {
        let e = error(of: spec(32, 4, 12))!
        let msg = e.message { $0 == .maskedPatchSize ? "--mask-patch" : $0 == .imageSize ? "--image-size" : $0.rawValue }
        XCTAssertEqual(msg, "--mask-patch = 12 does not divide --image-size = 32; valid: 4, 8, 16, 32")
    }
}
