import Foundation
import XCTest
import Results
import Sweep

/// The committed paper specs against the committed paper numbers: the paper column each
/// row gets, the protocol header, and Figure 3(a) from the mask generators.
final class PaperTableTests: XCTestCase {
    static let experiments = CLI.repoRoot.appendingPathComponent("experiments")
    static let paperDir = CLI.repoRoot.appendingPathComponent("paper").path

    /// Renders a committed spec on an empty database: every run pending (the paper column,
    /// the achieved ratios and the claims' comparisons need no results).
    func render(_ name: String) throws -> String {
        let spec = try SweepSpec.load(path: Self.experiments.appendingPathComponent("\(name).yaml").path)
        let layout = try XCTUnwrap(spec.table)
        let paper = try layout.paper.map { try PaperNumbers.load(reference: $0, directory: Self.paperDir).numbers }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paper-table-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ResultsStore(path: dir.appendingPathComponent("empty.sqlite").path)
        let runs = try TableInputs.runs(spec, layout: layout, store: store)
        // Figure 3(a)'s sampled masks are left out here (testFigure3aFromTheGeneratorsAlone).
        return TableRenderer.render(layout: layout, runs: runs, paper: paper,
                                    context: try TableInputs.context(spec, layout: layout, maskGeometry: false))
    }

    /// Body rows of a markdown table as cells.
    func rows(_ markdown: String) -> [[String]] {
        markdown.split(separator: "\n").prefix { !$0.hasPrefix("runs: ") }.filter { $0.hasPrefix("| ") && !$0.hasPrefix("| target.") && !$0.hasPrefix("| mask.") }
            .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    /// Prediction resolution maps by values per token: one value per token is the paper's 6²
    /// (82.3) on both protocols; Table 4's all-pixel row gets the paper's all-pixel number,
    /// flagged as not read in the paper; settings without a paper row say N/A.
    func testResolutionAndLossOnMapping() throws {
        let t3 = try render("table3-resolution")
        XCTAssertEqual(rows(t3).map { [$0[0], $0[2]] }, [["12", "82.3"], ["24", "82.7"], ["48", "82.8"]], t3)
        XCTAssertTrue(t3.contains("- target.pred_resolution 12 → 6, 24 → 12, 48 → 24: by values predicted per token"), t3)
        let tiny = try render("table3-resolution-tiny")
        XCTAssertEqual(rows(tiny).map { [$0[0], $0[2]] }, [["8", "82.3"], ["16", "82.7"], ["32", "82.8"]], tiny)

        let t4 = try render("table4-target")
        let byRow = Dictionary(uniqueKeysWithValues: rows(t4).map { ("\($0[0]) \($0[1]) \($0[2])", $0[4]) })
        XCTAssertEqual(byRow["l1 12 masked"], "82.3")
        XCTAssertEqual(byRow["l1 48 masked"], "82.8")
        XCTAssertEqual(byRow["l1 48 all"], "81.7 †")
        XCTAssertEqual(byRow["bins-8 12 masked"], "N/A", "the paper has no bins-8 at 6²")
        XCTAssertEqual(byRow["bins-256 48 masked"], "N/A", "diverged in the paper")
        XCTAssertEqual(byRow["color-cluster-64 12 masked"], "N/A")
        XCTAssertTrue(t4.contains("† = not read in the paper"), t4)
        for claim in ["t4-regression-losses", "t4-regression-vs-classes", "t4-predict-vs-reconstruct"] {
            XCTAssertTrue(t4.contains("- \(claim): **not resolved at n = 0 seeds**"), claim)
        }
    }

    /// Every paper table says which protocol it ran, its budget against the paper's, and what
    /// its fine-tuning leaves out of the official recipe.
    func testHeadersStateTheProtocol() throws {
        for name in ["table1-masking", "table2-head", "table3-resolution", "table4-target", "figure3"] {
            let out = try render(name)
            XCTAssertTrue(out.contains("- Protocol: 48×48 synthetic images"), name)
            XCTAssertTrue(out.contains("12×12 tokens"), name)
            XCTAssertTrue(out.contains("a 6×6 mask grid (SimMIM's ablations (Swin-B): 32 px on 192 px, the same 6×6); 5 seeds per cell."), name)
            XCTAssertTrue(out.contains("of its views."), name)
            XCTAssertTrue(out.contains("it leaves out the official recipe's Mixup 0.8, CutMix 1.0, RandAugment"), name)
        }
        // MAE's and MaskAlign's tables are read against their own papers' budgets.
        let mae = try render("mae-table1f-mask-sampling")
        XCTAssertTrue(mae.contains("a 8×8 mask grid (MAE's Table 1 (ViT-L/16): 16-px tokens on 224 px, 14×14)"), mae)
        XCTAssertTrue(mae.contains("MAE's Table 1 (ViT-L/16): 1.28 M ImageNet-1K images × 800 epochs = 1.02 B views at 224 px"), mae)
        XCTAssertTrue(mae.contains("(MAE's Table 1 (ViT-L/16): all 1.28 M × 50)"), mae)
        let swin = try render("swin-table3-resolution")
        XCTAssertTrue(swin.contains("swin-micro (patch 2 px → 16×16 tokens, 3 stages of depths 2-2-6"), swin)
        let maskalign = try render("maskalign-alignment")
        XCTAssertTrue(maskalign.contains("MaskAlign (ViT-B/16): 1.28 M ImageNet-1K images × 200 epochs"), maskalign)
        // The position embedding, which moves this protocol's fine-tuning by tens of points.
        XCTAssertTrue(try render("table3-resolution-tiny").contains("4 heads, learned position)"))
        XCTAssertTrue(try render("table1-masking").contains("4 heads, fixed 2-D sin-cos position)"))
        // A setting the rows vary is not stated as one value in the header.
        let varied = try render("swin-pretrain-vs-scratch")
        XCTAssertTrue(varied.contains("10,000 unlabelled images × the row's epochs (pretrain.epochs) at 32 px"), varied)
        XCTAssertTrue(varied.contains("AdamW, layer decay per row, label smoothing"), varied)
        XCTAssertFalse(varied.contains("of its views"), varied)
        XCTAssertTrue(try render("table1-masking").contains("AdamW, layer decay 1, label smoothing"))
        XCTAssertTrue(mae.contains("4 heads, fixed 2-D sin-cos position)"), mae)
        XCTAssertTrue(try render("simmim-finetune-recipe").contains("4 heads, fixed 2-D sin-cos position)"))
        XCTAssertTrue(try render("simmim-position").contains("4 heads, position embedding per row)"))
        let t1 = try render("table1-masking")
        let square = rows(t1).filter { $0[0] == "square" }.map { [$0[2], $0[3], $0[5]] }
        XCTAssertEqual(square, [["0.11", "0.111", "82.6"], ["0.25", "=", "82.5"], ["0.44", "0.444", "82.5"]], t1)
    }

    /// Figure 3(a) needs no run: the generators' AvgDist at 48 px and at 192 px, the same
    /// numbers on every regeneration.
    func testFigure3aFromTheGeneratorsAlone() throws {
        let yaml = """
            name: geometry
            base: \(Self.experiments.path)/protocol48-default.yaml
            grids:
              - {mask.type: [random], mask.patch: [8], mask.ratio: [0.4, 0.6]}
              - {mask.type: [square], mask.patch: [8], mask.ratio: [0.25]}
            seeds: 2
            table: {rows: [mask.type, mask.patch, mask.ratio], figures: [avgdist-vs-ratio]}
            """
        let spec = try SweepSpec.parse(yaml: yaml, path: "geometry.yaml")
        let a = try TableInputs.maskGeometry(spec)
        XCTAssertEqual(a, try TableInputs.maskGeometry(spec), "seeded")
        XCTAssertEqual(a.map { "\($0.type) \($0.patch) \($0.patchAt192) \($0.ratio) \($0.imageSize)" }, [
            "random 8 32 0.4 48", "random 32 32 0.4 192", "random 8 32 0.6 48", "random 32 32 0.6 192",
            "square 8 32 0.25 48", "square 32 32 0.25 192"])
        let default192 = try XCTUnwrap(a.first { $0.type == "random" && $0.ratio == 0.6 && $0.imageSize == 192 })
        // The paper's default (32 px at 0.6 on 192 px): 15.35 px in paper/simmim.yaml's cross-check.
        XCTAssertEqual(default192.mean, 15.35, accuracy: 4 * default192.standardError + 0.05)
        XCTAssertEqual(default192.achievedRatio, 22.0 / 36, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(a.first { $0.type == "square" && $0.imageSize == 48 }).achievedRatio, 9.0 / 36, accuracy: 1e-12)
        let svg = try XCTUnwrap(Figures.render(kind: "avgdist-vs-ratio", runs: [], context: TableContext(maskGeometry: a)))
        XCTAssertTrue(svg.contains("stroke-dasharray"), "192 px dashed")
        XCTAssertTrue(svg.contains(">paper's 10–20 px at 192</text>"))
        XCTAssertTrue(svg.contains(">random 32</text>"))
        XCTAssertTrue(svg.contains(">patch: px at 192, same grid</text>"))
    }
}
