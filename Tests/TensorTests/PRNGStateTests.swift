import Tensor
import XCTest

final class PRNGStateTests: XCTestCase {
    /// A stream saved mid-way, as text, continues with exactly the numbers the original
    /// draws next, including the pending second value of a Box–Muller pair.
    func testSavedStateContinuesTheStream() throws {
        var a = PRNG(seed: 42).fork("mask")
        _ = a.permutation(17)
        _ = a.normalDouble()                       // leaves the pair's second value pending
        let text = a.state.description
        var b = PRNG(state: try XCTUnwrap(PRNG.State(text)))
        XCTAssertEqual(b.state, a.state)
        XCTAssertEqual(b.seed, a.seed)
        for _ in 0..<5 { XCTAssertEqual(a.normalDouble().bitPattern, b.normalDouble().bitPattern) }
        XCTAssertEqual(a.permutation(50), b.permutation(50))
        var fa = a.fork("x"), fb = b.fork("x")       // forks depend on the seed, which the state keeps
        XCTAssertEqual(fa.nextUInt64(), fb.nextUInt64())
    }

    func testMalformedStateTextIsRejected() {
        for text in ["", "1 2 3", "1 2 3 4 5 6 7", "1 0 0 0 0", "1 2 3 4 zz", "1  2 3 4 5"] {
            XCTAssertNil(PRNG.State(text), text)
        }
    }
}
