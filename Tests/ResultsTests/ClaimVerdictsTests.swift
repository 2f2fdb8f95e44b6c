import XCTest
import Results

final class ClaimVerdictsTests: XCTestCase {
    static let paperYAML = """
        table3_resolution:
          - {pred_resolution: 6,   top1: 82.3}
          - {pred_resolution: 12,  top1: 82.7}
          - {pred_resolution: 24,  top1: 82.8}
        table4_target:
          - {target: l1, pred_resolution: 192, loss_on: masked, top1: 82.8}
          - {target: l1, pred_resolution: 192, loss_on: all, top1: 81.7, verified: false}
        verification:
          table3_resolution: {verified: summary, why: "a faithful summary"}
          table4_target: {verified: summary}
        claims:
          - {id: t3-resolution, table: table3_resolution, text: "only 6^2 is worse"}
          - {id: t4-predict-vs-reconstruct, table: table4_target, text: "masked beats all"}
          - {id: no-recipe-claim, table: table3_resolution, text: "not testable here"}
        """

    static let layout = TableLayout(name: "t3", title: "Resolution", paper: "simmim.table3_resolution",
                                    rows: ["target.pred_resolution"],
                                    paperKeys: ["target.pred_resolution": "pred_resolution"],
                                    paperValues: ["target.pred_resolution": ["12": "6", "24": "12", "48": "24"]],
                                    paperWhy: ["target.pred_resolution": "values per token"])

    static func runs(_ values: [String: [Double]]) -> [TableRun] {
        values.keys.sorted().flatMap { res in
            values[res]!.enumerated().map { seed, v in
                TableRun(id: "\(res)-\(seed)", axes: ["target.pred_resolution": res, "seed": String(seed)],
                         status: .done, results: ["finetune.top1": v])
            }
        }
    }

    func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    func testClaimHoldsWithPairedIntervals() throws {
        let ref = [30.0, 32, 31, 29, 33]
        let runs = Self.runs([
            "48": ref,
            "24": zip(ref, [0.2, -0.1, 0.1, 0.0, -0.2]).map(+),     // alike: 0.0 [-0.2, +0.2]
            "12": zip(ref, [5.0, 6, 4, 5, 5]).map(-),               // 48 better: +5.0 [+4.1, +5.9]
        ])
        let paper = try PaperNumbers(name: "simmim", yaml: Self.paperYAML)
        let out = TableRenderer.render(layout: Self.layout, runs: runs, paper: paper,
                                       context: TableContext(reference: ["target.pred_resolution": "48"]))
        let l = lines(out)
        XCTAssertTrue(l.contains("| 12                     | 26.0 ± 1.6 (5) | 82.3  | -5.0 [-5.9, -4.1] (5) |"), out)
        XCTAssertTrue(l.contains("| 48                     | 31.0 ± 1.6 (5) | 82.8  | ref                   |"), out)
        XCTAssertTrue(l.contains("- target.pred_resolution 12 → 6, 24 → 12, 48 → 24: values per token"), out)
        XCTAssertTrue(out.contains("Read as: summary (a faithful summary)."), out)
        XCTAssertFalse(out.contains("†"), "every number read")
        XCTAssertEqual(l.last, "- t3-resolution: **holds at n = 5 seeds**. \"only 6^2 is worse\". 24 alike 48: 0.0 [-0.2, +0.2] (holds); 48 better than 12: +5.0 [+4.1, +5.9] (holds).")
        XCTAssertFalse(out.contains("no-recipe-claim"), "a claim without a recipe is not listed")
    }

    func testContradictedAndUnresolved() throws {
        let paper = try PaperNumbers(name: "simmim", yaml: Self.paperYAML)
        let ref = [30.0, 32, 31, 29, 33]
        let contradicted = Self.runs(["48": ref, "24": ref, "12": zip(ref, [3.0, 4, 2, 3, 3]).map(+)])
        let a = TableRenderer.render(layout: Self.layout, runs: contradicted, paper: paper, context: TableContext(reference: ["target.pred_resolution": "48"]))
        XCTAssertTrue(a.contains("- t3-resolution: **contradicted at n = 5 seeds**."), a)
        XCTAssertTrue(a.contains("48 better than 12: -3.0 [-3.9, -2.1] (contradicted)"), a)
        // Two seeds only, noisy: no call either way; a seed missing in one cell is not paired.
        let noisy = Self.runs(["48": [30, 32, 31], "24": [35, 28], "12": [29, 30]])
        let b = TableRenderer.render(layout: Self.layout, runs: noisy, paper: paper, context: TableContext())
        XCTAssertTrue(b.contains("- t3-resolution: **not resolved at n = 2 seeds**."), b)
        XCTAssertFalse(b.contains("Δ vs ref"), "no reference row without a context")
    }

    /// loss_on is a paper key: the all-pixel row gets the paper's (unverified, flagged)
    /// all-pixel number, not the masked one; a setting with no paper row says N/A.
    func testLossOnLookupAndFlags() throws {
        let paper = try PaperNumbers(name: "simmim", yaml: Self.paperYAML)
        let layout = TableLayout(name: "t4", title: "Target", paper: "simmim.table4_target",
                                 rows: ["target.type", "target.pred_resolution", "target.loss_on"],
                                 paperKeys: ["target.type": "target", "target.pred_resolution": "pred_resolution", "target.loss_on": "loss_on"],
                                 paperValues: ["target.pred_resolution": ["48": "192", "12": "6"]])
        func run(_ id: String, _ res: String, _ on: String, _ seed: Int, _ v: Double) -> TableRun {
            TableRun(id: id, axes: ["target.type": "l1", "target.pred_resolution": res, "target.loss_on": on, "seed": "\(seed)"],
                     status: .done, results: ["finetune.top1": v])
        }
        let runs = [run("a0", "48", "masked", 0, 30), run("a1", "48", "masked", 1, 31), run("a2", "48", "masked", 2, 32),
                    run("b0", "48", "all", 0, 25), run("b1", "48", "all", 1, 27), run("b2", "48", "all", 2, 26),
                    run("c0", "12", "masked", 0, 20)]
        let out = TableRenderer.render(layout: layout, runs: runs, paper: paper,
                                       context: TableContext(reference: ["target.type": "l1", "target.pred_resolution": "48", "target.loss_on": "masked"]))
        let body = lines(out).filter { $0.hasPrefix("| l1") }.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertEqual(body.map { $0[3] + " " + $0[4] }, ["20.0 (1) N/A", "26.0 ± 1.0 (3) 81.7 †", "31.0 ± 1.0 (3) 82.8"], out)
        XCTAssertTrue(out.contains("† = not read in the paper"), out)
        XCTAssertTrue(out.contains("- t4-predict-vs-reconstruct: **holds at n = 3 seeds**."), out)
        XCTAssertTrue(out.contains("l1 / 48 / masked better than l1 / 48 / all: +5.0 [+2.5, +7.5] (holds)"), out)
    }

    /// Figure 3's ridge: cells grouped by relative AvgDist against the paper's band, each
    /// side the mean of its cells per seed.
    func testRidgeGroups() {
        func cell(_ label: String, _ rel: Double, _ v: [Double]) -> ClaimVerdicts.Cell {
            ClaimVerdicts.Cell(label: label, paper: [:], axes: [:],
                               seeds: Dictionary(uniqueKeysWithValues: v.enumerated().map { (String($0), $1) }), avgdistRel: rel)
        }
        let cells = [cell("low", 0.03, [20, 21, 22]), cell("in1", 0.06, [25, 27, 26]), cell("in2", 0.1, [27, 27, 28]),
                     cell("high", 0.2, [24, 26, 25]), cell("high-missing", 0.25, [20, 21])]
        let claim = PaperClaim(id: "f3-ridge", table: "figure3_avgdist", text: "ridge")
        let r = ClaimVerdicts.evaluate([claim], cells: cells)
        XCTAssertEqual(r.count, 1)
        let (below, d1, v1) = r[0].comparisons[0]
        XCTAssertEqual(below.a.map(\.label), ["in1", "in2"])
        XCTAssertEqual(d1.mean ?? .nan, 17.0 / 3, accuracy: 1e-9)     // (26, 27, 27) - (20, 21, 22)
        XCTAssertEqual(v1, .holds)
        let (_, d2, _) = r[0].comparisons[1]
        XCTAssertEqual(d2.n, 2, "seed 2 is missing from one cell above the band")
    }

    /// A spec's own claim (`table.claims`): sides picked by axes, groups averaged per seed.
    func testSpecClaimsPairBySeedOverTheirSides() {
        func cell(_ epochs: String, _ ratio: String, _ v: [Double]) -> ClaimVerdicts.Cell {
            ClaimVerdicts.Cell(label: "\(epochs) / \(ratio)", paper: [:], axes: ["pretrain.epochs": epochs, "mask.ratio": ratio],
                               seeds: Dictionary(uniqueKeysWithValues: v.enumerated().map { ("\($0.offset)", $0.element) }))
        }
        let cells = [cell("0", "0.6", [11.6, 11.8, 11.2]), cell("8", "0.1", [16.4, 16.0, 16.9]),
                     cell("8", "0.9", [14.2, 13.2, 12.2])]
        let claims = [SpecClaim(id: "helps", text: "t", a: ["pretrain.epochs": "8"], relation: "better", b: ["pretrain.epochs": "0"]),
                      SpecClaim(id: "alike", text: "t", a: ["mask.ratio": "0.1"], relation: "alike", b: ["mask.ratio": "0.9"]),
                      SpecClaim(id: "absent", text: "t", a: ["mask.ratio": "0.5"], relation: "better", b: ["mask.ratio": "0.9"])]
        let r = ClaimVerdicts.evaluate(claims, cells: cells)
        XCTAssertEqual(r.map(\.claim.id), ["helps", "alike"], "a claim whose side has no cell is not listed")
        // Per seed: mean(16.4, 14.2) − 11.6 = 3.7, then 2.8, 3.35: mean 3.283, sd 0.4537,
        // t(0.975, 2) = 4.303: half-width 4.303 · 0.4537 / √3 = 1.127.
        let d = r[0].comparisons[0].1
        XCTAssertEqual(d.n, 3)
        XCTAssertEqual(d.mean!, 3.2833, accuracy: 1e-3)
        XCTAssertEqual(d.low!, 3.2833 - 1.127, accuracy: 2e-3)
        XCTAssertEqual(r[0].verdict, .holds)
        // 0.1 − 0.9 = 2.2, 2.8, 4.7: mean 3.23 [−0.01, +6.47] reaches inside ±1: not resolved.
        XCTAssertEqual(r[1].verdict, .notResolved)
    }

    /// A spec claim about another of the table's metrics (MAE's about the linear probe)
    /// pairs that metric's seeds, and its line says which metric it read.
    func testSpecClaimOnAnotherMetric() {
        func cell(_ depth: String, ft: [Double], probe: [Double]) -> ClaimVerdicts.Cell {
            func bySeed(_ v: [Double]) -> [String: Double] { Dictionary(uniqueKeysWithValues: v.enumerated().map { ("\($0.offset)", $0.element) }) }
            var c = ClaimVerdicts.Cell(label: depth, paper: [:], axes: ["mae.decoder_depth": depth], seeds: bySeed(ft))
            c.otherMetrics["linprobe.top1"] = bySeed(probe)
            return c
        }
        let cells = [cell("1", ft: [60, 62, 61], probe: [30, 31, 29]), cell("8", ft: [61, 61, 62], probe: [40, 42, 41])]
        let claims = [SpecClaim(id: "probe", text: "t", a: ["mae.decoder_depth": "8"], relation: "better", b: ["mae.decoder_depth": "1"],
                                metric: "linprobe.top1"),
                      SpecClaim(id: "ft", text: "t", a: ["mae.decoder_depth": "8"], relation: "better", b: ["mae.decoder_depth": "1"])]
        let r = ClaimVerdicts.evaluate(claims, cells: cells)
        // Probe: 10, 11, 12 → mean 11, sd 1, half-width 4.303/√3 = 2.484: holds.
        XCTAssertEqual(r[0].comparisons[0].1.mean!, 11, accuracy: 1e-9)
        XCTAssertEqual(r[0].comparisons[0].1.low!, 11 - 2.484, accuracy: 2e-3)
        XCTAssertEqual(r[0].verdict, .holds)
        // Fine-tune: 1, −1, 1 → mean 0.33: not resolved.
        XCTAssertEqual(r[1].comparisons[0].1.mean!, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(r[1].verdict, .notResolved)
        let text = ClaimVerdicts.render(r, metric: "finetune.top1")
        XCTAssert(text.contains("- probe: **holds at n = 3 seeds** on linprobe.top1."), text)
        XCTAssert(text.contains("- ft: **not resolved at n = 3 seeds**. "), text)
    }
}
