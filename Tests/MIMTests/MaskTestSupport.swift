import MIM
import NN
import Tensor
import XCTest

func maskSpec(_ type: MaskType, image: Int, model: Int, masked: Int, ratio: Double) -> MaskSpec {
    MaskSpec(type: type, imageSize: image, modelPatchSize: model, maskedPatchSize: masked, maskRatio: ratio)
}

/// Downsamples a token mask to the mask-patch grid, failing if any mask patch is not one
/// constant scale×scale block of tokens (i.e. the upsampling is broken).
func maskPatchGrid(of tokens: [Float], spec: MaskSpec, file: StaticString = #filePath, line: UInt = #line) -> [Int] {
    let g = spec.gridSize, s = spec.maskGridSize, scale = spec.scale
    XCTAssertEqual(tokens.count, g * g, file: file, line: line)
    var grid = [Int](repeating: 0, count: s * s)
    for my in 0..<s {
        for mx in 0..<s {
            let v = tokens[(my * scale) * g + mx * scale]
            XCTAssertTrue(v == 0 || v == 1, "mask value \(v)", file: file, line: line)
            for dy in 0..<scale {
                for dx in 0..<scale where tokens[(my * scale + dy) * g + mx * scale + dx] != v {
                    XCTFail("mask patch (\(my), \(mx)) is not constant", file: file, line: line)
                    return grid
                }
            }
            grid[my * s + mx] = Int(v)
        }
    }
    return grid
}

/// The straightforward definition of AvgDist: every masked pixel against every visible one.
func bruteForceAvgDist(_ mask: [Float], width: Int, height: Int) -> Double? {
    var visible: [(Int, Int)] = []
    var masked: [(Int, Int)] = []
    for y in 0..<height {
        for x in 0..<width { if mask[y * width + x] != 0 { masked.append((x, y)) } else { visible.append((x, y)) } }
    }
    if masked.isEmpty { return 0 }
    if visible.isEmpty { return nil }
    var sum = 0.0
    for (mx, my) in masked {
        var best = Int.max
        for (vx, vy) in visible { best = min(best, (mx - vx) * (mx - vx) + (my - vy) * (my - vy)) }
        sum += Double(best).squareRoot()
    }
    return sum / Double(masked.count)
}

extension XCTestCase {
    /// A finite-difference check checked something and found no mismatch.
    func assertPasses(_ result: (checked: Int, mismatches: [GradientCheck.Mismatch]),
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(result.checked, 0, file: file, line: line)
        XCTAssert(result.mismatches.isEmpty,
                  "\(result.mismatches.count) of \(result.checked) entries differ: \(result.mismatches.prefix(5))",
                  file: file, line: line)
    }
}
