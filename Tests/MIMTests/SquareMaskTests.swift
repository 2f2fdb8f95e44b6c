import MIM
import Tensor
import XCTest

final class SquareMaskTests: XCTestCase {
    /// SimMIM Table 1's square rows: a 6×6 grid of 32-px mask patches on 192 px, ratios
    /// 0.11 / 0.25 / 0.44 are 2×2 / 3×3 / 4×4 squares.
    func testPaperSquareSides() throws {
        for (ratio, k) in [(0.11, 2), (0.25, 3), (0.44, 4), (0.01, 1), (0.99, 6)] {
            let gen = try MaskGenerator(maskSpec(.square, image: 192, model: 4, masked: 32, ratio: ratio))
            XCTAssertEqual(gen.squareSide, k, "ratio \(ratio)")
        }
    }

    func testSquareMaskIsExactlyOneKByKBlock() throws {
        var rng = PRNG(seed: 2)
        for (image, model, masked, ratio) in [(192, 4, 32, 0.25), (192, 4, 16, 0.3), (32, 4, 4, 0.5), (32, 4, 8, 0.11),
                                              (45, 3, 9, 0.4), (32, 4, 16, 0.9)] {
            let spec = maskSpec(.square, image: image, model: model, masked: masked, ratio: ratio)
            var gen = try MaskGenerator(spec)
            let k = gen.squareSide, s = spec.maskGridSize
            for _ in 0..<20 {
                let grid = maskPatchGrid(of: gen.next(&rng), spec: spec)
                let cells = grid.indices.filter { grid[$0] == 1 }
                XCTAssertEqual(cells.count, k * k, "\(image)/\(masked) r=\(ratio)")
                let ys = cells.map { $0 / s }, xs = cells.map { $0 % s }
                XCTAssertEqual(ys.max()! - ys.min()! + 1, k)
                XCTAssertEqual(xs.max()! - xs.min()! + 1, k)
            }
        }
    }

    func testSquareVisitsEveryPosition() throws {
        let spec = maskSpec(.square, image: 192, model: 4, masked: 32, ratio: 0.25)   // 3×3 on 6×6: 16 places
        var gen = try MaskGenerator(spec)
        var rng = PRNG(seed: 9)
        var corners = Set<Int>()
        for _ in 0..<400 {
            _ = gen.next(&rng)
            corners.insert(gen.maskPatchGrid.firstIndex(of: 1)!)
        }
        XCTAssertEqual(corners.count, 16)
    }
}
