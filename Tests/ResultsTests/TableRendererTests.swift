import Foundation
import XCTest
import Results

final class TableRendererTests: XCTestCase {
    static let paperYAML = """
        table1_masking:
          - {mask_type: block-wise, mask_patch: 16, mask_ratio: 0.4, top1: 82.7}
          - {mask_type: random, mask_patch: 16, mask_ratio: 0.4, top1: 82.4}
          - {mask_type: random, mask_patch: 16, mask_ratio: 0.6, top1: 82.7}
          - {mask_type: random, mask_patch: 32, mask_ratio: 0.4, top1: 82.9}
          - {mask_type: random, mask_patch: 32, mask_ratio: 0.60, top1: null}
          - {mask_type: random, mask_patch: 32, mask_ratio: 0.6, top1: 82.8}
          - {mask_type: square, mask_patch: 32, mask_ratio: 0.44, top1: 82.5}
        verification:
          table1_masking: {verified: summary}
        """

    static func run(_ id: String, _ type: String, _ patch: Int, _ ratio: String, seed: Int, _ status: RunStatus,
                    _ results: [String: Double] = [:]) -> TableRun {
        TableRun(id: id, axes: ["mask.type": type, "mask.patch": String(patch), "mask.ratio": ratio, "seed": String(seed)],
                 status: status, results: results)
    }

    static let twoByTwo: [TableRun] = [
        run("a1", "random", 4, "0.4", seed: 0, .done, ["finetune.top1": 80.0]),
        run("a2", "random", 4, "0.4", seed: 1, .done, ["finetune.top1": 81.0]),
        run("a3", "random", 4, "0.6", seed: 0, .done, ["finetune.top1": 82.26]),
        run("a4", "random", 8, "0.4", seed: 0, .pending),
        run("a5", "random", 8, "0.6", seed: 0, .done, ["finetune.top1": 83.0]),
        run("a6", "random", 8, "0.6", seed: 1, .done, ["finetune.top1": 84.0]),
        run("a7", "random", 8, "0.6", seed: 2, .failed),
    ]

    static let layout = TableLayout(
        name: "t1", title: "Masking (tiny)", paper: "simmim.table1_masking", rows: ["mask.patch", "mask.ratio"],
        paperKeys: ["mask.type": "mask_type", "mask.patch": "mask_patch", "mask.ratio": "mask_ratio"],
        paperValues: ["mask.patch": ["4": "16", "8": "32"]])

    func testTwoByTwoExact() throws {
        let paper = try PaperNumbers(name: "simmim", yaml: Self.paperYAML)
        let out = TableRenderer.render(layout: Self.layout, runs: Self.twoByTwo, paper: paper)
        XCTAssertEqual(out, """
            # Masking (tiny)

            finetune.top1: mean ± sample std over done runs (n = runs pooled, i.e. seeds); — = none done yet.
            Paper column: simmim.table1_masking, reported at the paper's scale (ImageNet-1K, full-size models): compare trends, not values; N/A = the paper has no number for this setting. Read as: summary.

            Settings mapped to the paper's:
            - mask.patch 4 → 16, 8 → 32

            | mask.patch | mask.ratio | finetune.top1  | paper |
            |------------|------------|----------------|-------|
            | 4          | 0.4        | 80.5 ± 0.7 (2) | 82.4  |
            | 4          | 0.6        | 82.3 (1)       | 82.7  |
            | 8          | 0.4        | —              | 82.9  |
            | 8          | 0.6        | 83.5 ± 0.7 (2) | N/A   |

            runs: 5 done, 1 failed, 1 pending/running of 7

            """)
    }

    /// A paper with the linear probe beside fine-tuning (MAE) gets a paper column beside our
    /// probe too; one without (SimMIM) does not get a column of N/A.
    func testPaperColumnForTheLinearProbe() throws {
        let mae = try PaperNumbers(name: "mae", yaml: """
            decoder_depth:
              - {value: 1, ft: 84.8, lin: 65.5}
              - {value: 8, ft: 84.9, lin: 73.5}
            verification:
              decoder_depth: {verified: true}
            """)
        let layout = TableLayout(name: "t1a", title: "Depth", paper: "mae.decoder_depth", rows: ["mae.decoder_depth"],
                                 metrics: ["finetune.top1", "linprobe.top1"], paperKeys: ["mae.decoder_depth": "value"])
        let runs = [TableRun(id: "a", axes: ["mae.decoder_depth": "1", "seed": "0"], status: .done,
                             results: ["finetune.top1": 60, "linprobe.top1": 30]),
                    TableRun(id: "b", axes: ["mae.decoder_depth": "8", "seed": "0"], status: .done,
                             results: ["finetune.top1": 61, "linprobe.top1": 41])]
        let out = TableRenderer.render(layout: layout, runs: runs, paper: mae)
        XCTAssert(out.contains("| mae.decoder_depth | finetune.top1 | paper | linprobe.top1 | paper linprobe.top1 |"), out)
        XCTAssert(out.contains("| 1                 | 60.0 (1)      | 84.8  | 30.0 (1)      | 65.5                |"), out)
        XCTAssert(out.contains("| 8                 | 61.0 (1)      | 84.9  | 41.0 (1)      | 73.5                |"), out)

        var simmim = Self.layout
        simmim.metrics = ["finetune.top1", "linprobe.top1"]
        let plain = TableRenderer.render(layout: simmim, runs: Self.twoByTwo, paper: try PaperNumbers(name: "simmim", yaml: Self.paperYAML))
        XCTAssertFalse(plain.contains("paper linprobe.top1"), plain)
    }

    func testByteIdenticalWhateverTheInputOrder() throws {
        let paper = try PaperNumbers(name: "simmim", yaml: Self.paperYAML)
        let a = TableRenderer.render(layout: Self.layout, runs: Self.twoByTwo, paper: paper)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            XCTAssertEqual(TableRenderer.render(layout: Self.layout, runs: Self.twoByTwo.shuffled(using: &rng), paper: paper), a)
        }
    }

    /// The cells of a markdown table line.
    func cells(_ line: Substring) -> [String] {
        line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func testPivotAvgDistAndExtraMetric() throws {
        let runs = [
            Self.run("b1", "random", 8, "0.4", seed: 0, .done,
                     ["finetune.top1": 70, "linprobe.top1": 30, "avgdist": 3.0, "avgdist_rel": 0.09375]),
            Self.run("b2", "random", 8, "0.4", seed: 1, .done,
                     ["finetune.top1": 72, "linprobe.top1": 32, "avgdist": 3.2, "avgdist_rel": 0.1]),
            Self.run("b3", "random", 8, "0.5", seed: 0, .done, ["finetune.top1": 75, "avgdist": 4.0, "avgdist_rel": 0.125]),
            Self.run("b4", "square", 8, "0.5", seed: 0, .pending),
        ]
        let layout = TableLayout(
            name: "t", title: "Pivot", paper: "simmim.table1_masking", rows: ["mask.type"], columns: ["mask.ratio"],
            metrics: ["finetune.top1", "linprobe.top1"],
            paperKeys: ["mask.type": "mask_type", "mask.patch": "mask_patch", "mask.ratio": "mask_ratio"],
            paperValues: ["mask.patch": ["8": "32"], "mask.ratio": ["0.5": "0.6"]], avgdist: true)
        let out = TableRenderer.render(layout: layout, runs: runs, paper: try PaperNumbers(name: "simmim", yaml: Self.paperYAML))
        let lines = out.split(separator: "\n")
        XCTAssertTrue(lines.contains("- mask.patch 8 → 32"), out)
        XCTAssertTrue(lines.contains("- mask.ratio 0.5 → 0.6"), out)
        guard let h = lines.firstIndex(where: { $0.hasPrefix("| mask.type") }) else { return XCTFail(out) }
        XCTAssertEqual(cells(lines[h]), [
            "mask.type",
            "ratio=0.4", "paper (0.4)", "AvgDist px ratio=0.4", "AvgDist rel ratio=0.4", "linprobe.top1 ratio=0.4",
            "ratio=0.5", "paper (0.6)", "AvgDist px ratio=0.5", "AvgDist rel ratio=0.5", "linprobe.top1 ratio=0.5",
        ])
        XCTAssertEqual(cells(lines[h + 2]), ["random", "71.0 ± 1.4 (2)", "82.9", "3.10", "0.097", "31.0 ± 1.4 (2)",
                                             "75.0 (1)", "N/A", "4.00", "0.125", "—"])
        XCTAssertEqual(cells(lines[h + 3]), ["square", "—", "N/A", "—", "—", "—", "—", "N/A", "—", "—", "—"], "no paper row: no analogue")
        XCTAssertEqual(lines.last, "runs: 3 done, 0 failed, 1 pending/running of 4")
    }

    func testNoPaperAbsentAxisAndNumericOrder() {
        let runs = [
            TableRun(id: "c1", axes: ["target.pred_resolution": "16"], status: .done, results: ["finetune.top1": 50]),
            TableRun(id: "c2", axes: [:], status: .done, results: ["finetune.top1": 51]),
            TableRun(id: "c3", axes: ["target.pred_resolution": "4"], status: .running, results: [:]),
            TableRun(id: "c4", axes: ["target.pred_resolution": "8"], status: .done, results: [:]),
        ]
        let layout = TableLayout(name: "t3", title: "Resolution", paper: "simmim.table3_resolution",
                                 rows: ["target.pred_resolution"], paperKeys: ["target.pred_resolution": "pred_resolution"])
        let out = TableRenderer.render(layout: layout, runs: runs, paper: nil)
        XCTAssertEqual(out, """
            # Resolution

            finetune.top1: mean ± sample std over done runs (n = runs pooled, i.e. seeds); — = none done yet.

            | target.pred_resolution | finetune.top1 |
            |------------------------|---------------|
            | default                | 51.0 (1)      |
            | 4                      | —             |
            | 8                      | —             |
            | 16                     | 50.0 (1)      |

            runs: 3 done, 0 failed, 1 pending/running of 4

            """)
    }

    func testPaperNullMatchesAbsentAndMissingRow() throws {
        let paper = try PaperNumbers(name: "simmim", yaml: """
            table4_target:
              - {target: beit-tokens, pred_resolution: null, top1: 82.7}
              - {target: bins-256, pred_resolution: 192, top1: null}
              - {target: l1, pred_resolution: 192, top1: 82.8}
            verification:
              table4_target: {verified: summary}
            """)
        let runs = [
            TableRun(id: "d1", axes: ["target.type": "l1"], status: .done, results: ["finetune.top1": 60]),
            TableRun(id: "d2", axes: ["target.type": "bins-256", "target.pred_resolution": "16"], status: .done, results: ["finetune.top1": 55]),
            TableRun(id: "d3", axes: ["target.type": "beit-tokens"], status: .pending, results: [:]),
            TableRun(id: "d4", axes: ["target.type": "l1", "target.pred_resolution": "4"], status: .pending, results: [:]),
        ]
        let layout = TableLayout(name: "t4", title: "Target", paper: "simmim.table4_target",
                                 rows: ["target.type", "target.pred_resolution"],
                                 paperKeys: ["target.type": "target", "target.pred_resolution": "pred_resolution"],
                                 paperValues: ["target.pred_resolution": ["16": "192"]])
        let lines = TableRenderer.render(layout: layout, runs: runs, paper: paper).split(separator: "\n")
        let body = lines.filter { $0.hasPrefix("| ") }.dropFirst().map(cells)
        XCTAssertEqual(body, [
            ["beit-tokens", "default", "—", "82.7"],
            ["bins-256", "16", "55.0 (1)", "N/A"],
            ["l1", "default", "60.0 (1)", "N/A"],
            ["l1", "4", "—", "N/A"],
        ])
    }

    /// A table says which OpenBLAS kernels its done runs ran on, and warns when they mix:
    /// the same config and seed give other numbers on another kernel.
    func testKernelLine() {
        func runs(_ kernels: [String?]) -> [TableRun] {
            kernels.enumerated().map { k, kernel in
                TableRun(id: "k\(k)", axes: ["seed": String(k)], status: .done, results: ["finetune.top1": 50], blasKernel: kernel)
            } + [TableRun(id: "p", axes: [:], status: .pending, results: [:], blasKernel: "Prescott (openblas)")]
        }
        let layout = TableLayout(name: "k", title: "K", rows: ["mask.ratio"])
        func last(_ kernels: [String?]) -> String {
            String(TableRenderer.render(layout: layout, runs: runs(kernels), paper: nil).split(separator: "\n").last ?? "")
        }
        XCTAssertEqual(last(["Zen (openblas)", "Zen (openblas)"]), "OpenBLAS kernel of the done runs: Zen (openblas) 2")
        XCTAssertEqual(last(["Cooperlake (mimlab)", "Zen (openblas)", "Zen (openblas)", nil]),
                       "OpenBLAS kernels of the done runs: Zen (openblas) 2, Cooperlake (mimlab) 1, not recorded 1; a run made "
                       + "again on another kernel differs in more than the last digits (README, Determinism), so a seed pair "
                       + "across kernels may not be the same draw")
        XCTAssertEqual(last([nil, nil]), "runs: 2 done, 0 failed, 1 pending/running of 3", "nothing recorded: no line")
    }

    func testEmptyRuns() {
        let out = TableRenderer.render(layout: Self.layout, runs: [], paper: nil)
        XCTAssertTrue(out.hasSuffix("| mask.patch | mask.ratio | finetune.top1 |\n|------------|------------|---------------|\n\nruns: 0 done, 0 failed, 0 pending/running of 0\n"), out)
    }

    func testRealPaperFile() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("paper").path
        let simmim = try PaperNumbers(name: "simmim", directory: dir)
        let t1 = try simmim.rows("table1_masking")
        XCTAssertEqual(t1.count, 29)
        XCTAssertEqual(t1[0], ["mask_type": "square", "mask_patch": "32", "mask_ratio": "0.11", "note": "2x2 mask patches", "top1": "82.6"])
        let t4 = try simmim.rows("table4_target")
        XCTAssertEqual(t4[2], ["target": "bins-256", "pred_resolution": "192", "loss_on": "masked"])
        XCTAssertEqual(t4[6], ["target": "beit-tokens", "loss_on": "masked", "top1": "82.7"])
        XCTAssertEqual(t4[12], ["target": "l1", "pred_resolution": "192", "loss_on": "all", "top1": "81.7", "verified": "false"])
        XCTAssertFalse(simmim.isRead(table: "table4_target", row: t4[12]), "third-party notes only")
        XCTAssertTrue(simmim.isRead(table: "table4_target", row: t4[9]), "read in a faithful summary")
        XCTAssertFalse(simmim.isRead(table: "table6_scaling", row: [:]), "partly verified")
        XCTAssertEqual(simmim.claims(for: "table3_resolution").map(\.id), ["t3-resolution"])
        XCTAssertEqual(try simmim.rows("figure3_avgdist"), [], "a plotted figure: a valid reference with no rows")
        XCTAssertTrue(simmim.tableKeys.starts(with: ["table1_masking", "table2_head", "table3_resolution"]))
        let (loaded, key) = try PaperNumbers.load(reference: "simmim.table3_resolution", directory: dir)
        XCTAssertEqual(try loaded.rows(key).map { $0["pred_resolution"] }, ["6", "12", "24", "48", "96", "192"])
        XCTAssertThrowsError(try simmim.rows("table9")) {
            XCTAssertTrue("\($0)".hasPrefix("paper simmim: no table 'table9' (tables: table1_masking, table2_head,"), "\($0)")
        }
        XCTAssertThrowsError(try PaperNumbers(name: "nope", directory: dir)) {
            XCTAssertTrue("\($0)".contains("nope.yaml: paper numbers not found"), "\($0)")
        }
        XCTAssertThrowsError(try PaperNumbers.load(reference: "simmim", directory: dir))
        XCTAssertEqual(try PaperNumbers(name: "mae", directory: dir).rows("decoder_depth")[0], ["value": "1", "ft": "84.8", "lin": "65.5"])
    }
}
