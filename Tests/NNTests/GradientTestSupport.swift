import NN
import Tensor
import XCTest

/// What every finite-difference test here shares: random inputs and parameters from the
/// test's own PRNG, and the pass condition (something was checked, nothing differed).
extension XCTestCase {
    func assertPasses(_ result: (checked: Int, mismatches: [GradientCheck.Mismatch]),
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(result.checked, 0, file: file, line: line)
        XCTAssert(result.mismatches.isEmpty,
                  "\(result.mismatches.count) of \(result.checked) entries differ: \(result.mismatches.prefix(5))",
                  file: file, line: line)
    }
}

extension PRNG {
    mutating func tensor(_ shape: [Int], std: Float = 1) -> Tensor {
        let t = Tensor(shape: shape)
        fillNormal(t, std: std)
        return t
    }

    mutating func randomize(_ params: [Parameter], std: Float = 0.3) {
        for p in params { fillNormal(p.value, std: std) }
    }
}
