import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Results

final class FiguresTests: XCTestCase {
    /// Random masking at patches 4, 8, 16 and ratios 0.4/0.6/0.8; two seeds for patch 8.
    static let runs: [TableRun] = {
        var out: [TableRun] = []
        for (patch, scale) in [(4, 1.0), (8, 2.0), (16, 4.0)] {
            for ratio in ["0.4", "0.6", "0.8"] {
                let r = Double(ratio)!
                for seed in 0..<(patch == 8 ? 2 : 1) {
                    out.append(TableRun(
                        id: "p\(patch)r\(ratio)s\(seed)",
                        axes: ["mask.type": "random", "mask.patch": String(patch), "mask.ratio": ratio, "seed": String(seed)],
                        status: .done,
                        results: ["avgdist": scale * (1 + r), "avgdist_rel": scale * (1 + r) / 32,
                                  "finetune.top1": 50 + Double(patch) / 4 + r + Double(seed)]))
                }
            }
        }
        out.append(TableRun(id: "pending", axes: ["mask.type": "random", "mask.patch": "32", "mask.ratio": "0.6", "seed": "0"],
                            status: .pending, results: [:]))
        return out
    }()

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func assertWellFormed(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 440\""), file: file, line: line)
        XCTAssertTrue(svg.hasSuffix("</svg>\n"), file: file, line: line)
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse(), "not well-formed XML", file: file, line: line)
    }

    func testAvgDistVsRatio() throws {
        let svg = Figures.avgDistVsRatio(runs: Self.runs)
        assertWellFormed(svg)
        XCTAssertEqual(count("<polyline", in: svg), 3, "one line per patch size with a done run")
        XCTAssertEqual(count("<circle", in: svg), 9)
        for legend in ["patch 4 px", "patch 8 px", "patch 16 px"] { XCTAssertTrue(svg.contains(">\(legend)</text>"), legend) }
        XCTAssertFalse(svg.contains("patch 32 px"))
        // x axis 0…1 over 426 px from x = 70; y axis 0…8 (patch 16 at ratio 0.8: 7.2 px) over 340 px up from 380.
        let patch4 = "points=\"266.00,320.50 "
        XCTAssertTrue(svg.contains(patch4), svg)
        XCTAssertTrue(svg.contains(">AvgDist (px)</text>"))
        XCTAssertTrue(svg.contains(">mask ratio</text>"))
        XCTAssertEqual(Figures.avgDistVsRatio(runs: Self.runs.reversed()), svg, "independent of input order")
    }

    func testTop1VsAvgDist() throws {
        let svg = Figures.top1VsAvgDist(runs: Self.runs)
        assertWellFormed(svg)
        XCTAssertEqual(count("<circle", in: svg), 9, "one point per configuration, seeds pooled")
        XCTAssertEqual(count("<polyline", in: svg), 0)
        // Patch 8 has two seeds at each ratio: a bar and two caps each.
        XCTAssertEqual(count("stroke-width=\"1\"/>", in: svg), 9)
        XCTAssertTrue(svg.contains(">p8 r0.6</text>"))
        XCTAssertTrue(svg.contains(">AvgDist / image side</text>"))
        XCTAssertEqual(Figures.top1VsAvgDist(runs: Self.runs.shuffled()), svg)
        XCTAssertEqual(Figures.render(kind: "top1-vs-avgdist", runs: Self.runs), svg)
        XCTAssertNil(Figures.render(kind: "nope", runs: Self.runs))
    }

    func testEmptyFigures() {
        for svg in [Figures.avgDistVsRatio(runs: []), Figures.top1VsAvgDist(runs: Array(Self.runs.suffix(1)))] {
            assertWellFormed(svg)
            XCTAssertTrue(svg.contains(">no runs done yet</text>"))
            XCTAssertEqual(count("<polyline", in: svg), 0)
            XCTAssertEqual(count("<circle", in: svg), 0)
        }
    }

    func testTicks() {
        XCTAssertEqual(Figures.ticks(0, 7.2), [0, 2, 4, 6, 8])
        XCTAssertEqual(Figures.ticks(0, 1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(SVGPlot.tickText(0.6000000000000001, step: 0.2), "0.6")
        XCTAssertEqual(SVGPlot.tickText(40, step: 10), "40")
    }
}
