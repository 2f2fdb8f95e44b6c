import XCTest
import Results

final class PairedStatisticsTests: XCTestCase {
    /// Two-sided 95% quantiles t(0.975, df) from a printed table (to 4 decimals).
    func testStudentTQuantilesMatchTheTable() {
        let table: [(Double, Double)] = [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (5, 2.5706),
                                         (7, 2.3646), (9, 2.2622), (14, 2.1448), (29, 2.0452), (120, 1.9799)]
        for (df, t) in table {
            XCTAssertEqual(StudentT.quantile(0.975, df: df), t, accuracy: 1e-4, "df \(df)")
            XCTAssertEqual(StudentT.cdf(t, df: df), 0.975, accuracy: 1e-5, "df \(df)")
        }
        XCTAssertEqual(StudentT.quantile(0.995, df: 4), 4.6041, accuracy: 1e-4)
        XCTAssertEqual(StudentT.quantile(0.025, df: 4), -2.7764, accuracy: 1e-4)
        XCTAssertEqual(StudentT.quantile(0.5, df: 3), 0)
        XCTAssertEqual(StudentT.cdf(0, df: 7), 0.5, accuracy: 1e-12)
    }

    /// Five seeds; seed "9" is in one cell only and is left out of the pairing.
    func testPairedIntervalOnAFixture() throws {
        let a = ["0": 30.0, "1": 32, "2": 29, "3": 31, "4": 33, "9": 50]
        let b = ["0": 28.0, "1": 29, "2": 28, "3": 30, "4": 30]
        let d = PairedDifference(a, b)          // differences 2, 3, 1, 1, 3
        XCTAssertEqual(d.n, 5)
        XCTAssertEqual(try XCTUnwrap(d.mean), 2.0, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(d.sd), 1.0, accuracy: 1e-12)
        let half = 2.7764451 / 5.0.squareRoot()     // t(0.975, 4) · sd / √n
        XCTAssertEqual(try XCTUnwrap(d.low), 2 - half, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(d.high), 2 + half, accuracy: 1e-6)
        XCTAssertEqual(d.text(), "+2.0 [+0.8, +3.2]")
        XCTAssertEqual(PairedDifference(b, a).text(), "-2.0 [-3.2, -0.8]")
    }

    func testTooFewPairs() {
        let one = PairedDifference(["0": 5], ["0": 3, "1": 4])
        XCTAssertEqual(one.n, 1)
        XCTAssertEqual(one.mean, 2)
        XCTAssertNil(one.low)
        XCTAssertEqual(one.text(), "+2.0")
        let none = PairedDifference(["0": 5], ["1": 4])
        XCTAssertEqual(none.n, 0)
        XCTAssertEqual(none.text(), "—")
        XCTAssertEqual(PairedDifference(differences: [0.01, -0.01]).text(), "0.0 [-0.1, +0.1]")
    }

    /// The reading of an interval against each relation, with the 1-point margin.
    func testRelationVerdicts() {
        func d(_ low: Double, _ high: Double) -> PairedDifference {
            // Differences m ± s: sd = s√2, so the interval is m ± t(0.975, 1) · s.
            let mean = (low + high) / 2, half = (high - low) / 2
            let spread = half / 12.706204736174698
            return PairedDifference(differences: [mean - spread, mean + spread])
        }
        typealias R = ClaimVerdicts.Relation
        XCTAssertEqual(R.better.verdict(d(0.2, 3)), .holds)
        XCTAssertEqual(R.better.verdict(d(-3, -0.2)), .contradicted)
        XCTAssertEqual(R.better.verdict(d(-1, 3)), .notResolved)
        XCTAssertEqual(R.asGoodAs.verdict(d(-0.9, 3)), .holds)
        XCTAssertEqual(R.asGoodAs.verdict(d(-4, -1.1)), .contradicted)
        XCTAssertEqual(R.asGoodAs.verdict(d(-2, 0)), .notResolved)
        XCTAssertEqual(R.alike.verdict(d(-0.9, 0.9)), .holds)
        XCTAssertEqual(R.alike.verdict(d(1.1, 3)), .contradicted)
        XCTAssertEqual(R.alike.verdict(d(-3, -1.1)), .contradicted)
        XCTAssertEqual(R.alike.verdict(d(0.5, 1.5)), .notResolved)
        XCTAssertEqual(R.better.verdict(PairedDifference(differences: [5])), .notResolved, "no interval from one seed")
    }
}
