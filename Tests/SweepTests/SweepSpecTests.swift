import XCTest
import Results
import Train
import Sweep
import Tensor

final class SweepSpecTests: XCTestCase {
    func spec(_ body: String, file: String = "/tmp/x/spec.yaml") throws -> SweepSpec {
        try SweepSpec.parse(yaml: body, path: file)
    }

    func testGridsAreProductsWithinAndUnionsAcross() throws {
        let s = try spec("""
            grids:
              - {mask.patch: [4, 8], mask.ratio: [0.4, 0.6, 0.8]}
              - {mask.type: [square], mask.ratio: [0.25]}
              - {mask.patch: [8], mask.ratio: [0.6]}      # the same runs as in grid 1: not twice
            seeds: 2
            exclude: [{mask.patch: 4, mask.ratio: 0.80}]
            """)
        // (2x3 - 1 excluded) + 1 = 6 configs, x 2 seeds.
        XCTAssertEqual(s.runs.count, 12)
        XCTAssertEqual(Set(s.runs.map(\.id)).count, 12)
        XCTAssertEqual(s.axes, ["mask.patch", "mask.ratio", "mask.type", "seed"])
        XCTAssertFalse(s.runs.contains { $0.config.mask.patch == 4 && $0.config.mask.ratio == 0.8 })
        XCTAssertEqual(s.runs.filter { $0.config.mask.type == "square" }.map(\.config.seed), [0, 1])
        XCTAssertEqual(s.runs[0].axisText("mask.ratio"), "0.4")
        XCTAssertEqual(s.runs[0].axisText("target.pred_resolution"), "32")   // the default: full resolution
        XCTAssertEqual(s.runs[0].axisText("encoder.patch"), "4")
        XCTAssertEqual(s.runs[0].axisText("pretrained"), "none")   // pre-trains its own encoder
        XCTAssertEqual(s.name, "spec")
    }

    func testRunIDsAreSharedAcrossSpecsAndSpellings() throws {
        let a = try spec("grids: [{mask.ratio: [0.6]}]\nseeds: [3]")
        let b = try spec("set: {seed: 3}\ngrids: [{mask.ratio: [0.60]}]", file: "/tmp/other.yaml")
        let c = try RunConfig.parse(yaml: "seed: 3")
        XCTAssertEqual(a.runs.map(\.id), b.runs.map(\.id))
        XCTAssertEqual(a.runs[0].id, RunID.of(c))
    }

    func testBaseAndSetApply() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "encoder: {preset: vit-nano}\npretrain: {epochs: 2}\n".write(to: dir.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        let s = try spec("base: b\nset: {pretrain.epochs: 3, finetune: {epochs: 0}}\n", file: dir.appendingPathComponent("s.yaml").path)
        XCTAssertEqual(s.runs.count, 1)
        XCTAssertEqual(s.runs[0].config.encoder.preset, "vit-nano")
        XCTAssertEqual(s.runs[0].config.pretrain.epochs, 3)
        XCTAssertEqual(s.runs[0].config.finetune.epochs, 0)
    }

    func testTableSection() throws {
        let s = try spec("""
            grids: [{mask.patch: [4, 8]}]
            table:
              title: Masked patch size
              paper: simmim.table1_masking
              rows: [mask.type, mask.patch]
              paper_keys: {mask.type: mask_type, mask.patch: mask_patch}
              paper_values: {mask.patch: {4: 16, 8: 32}}
              avgdist: true
              figures: [avgdist-vs-ratio]
            """)
        let t = try XCTUnwrap(s.table)
        XCTAssertEqual(t.name, "spec")
        XCTAssertEqual(t.rows, ["mask.type", "mask.patch"])
        XCTAssertEqual(t.paperValues["mask.patch"], ["4": "16", "8": "32"])
        XCTAssertEqual(t.paperKeys["mask.patch"], "mask_patch")
        XCTAssertEqual(t.metrics, ["finetune.top1"])
        XCTAssertTrue(t.avgdist)
    }

    /// Each malformed spec names its file:line and what is valid.
    func testMalformedSpecsNameFileLineAndValidValues() {
        let cases: [(String, [String])] = [
            ("grids: [{mask.ratio: [0.4, 0.6]}\n", ["spec.yaml", "not valid YAML"]),
            ("grids:\n  - {mask.ratoi: [0.4]}\n", ["spec.yaml:2:", "unknown axis 'mask.ratoi'", "mask.ratio", "mask.patch", "mask.type"]),
            ("grids:\n  - {mask.ratio: [0.4, 1.5]}\n", ["spec.yaml:2:", "mask.ratio = 1.5", "must be in (0, 1)"]),
            ("grids:\n  - {mask.type: [random, checkerboard]}\n", ["spec.yaml:2:", "mask.type = checkerboard", "valid values are", "block-wise"]),
            ("grids: []\n", ["spec.yaml:1:", "grids is empty"]),
            ("grids:\n  - {}\n", ["spec.yaml:2:", "grid 1 is empty"]),
            ("grids:\n  - {mask.ratio: []}\n", ["spec.yaml:2:", "mask.ratio has no values"]),
            ("seeds: 0\n", ["spec.yaml:1:", "seeds = 0"]),
            ("grid:\n  - {mask.ratio: [0.4]}\n", ["spec.yaml:1:", "unknown key 'grid'", "grids"]),
            ("grids: [{mask.ratio: [0.4]}]\nexclude: [{mask.patch: 8}]\n", ["spec.yaml:2:", "no grid varies", "mask.ratio"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable: {rows: [mask.ratio], figures: [fig9]}\n", ["spec.yaml:2:", "fig9", "avgdist-vs-ratio"]),
            ("grids: [{mask.patch: [4, 6]}]\n", ["spec.yaml:1:", "mask.patch"]),
            ("base: nowhere\n", ["spec.yaml:1:", "no such config file"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable: {rows: [mask.ratio], claims: {id: x}}\n", ["spec.yaml:2:", "table.claims must be a list"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable:\n  rows: [mask.ratio]\n  claims:\n    - {id: x, text: t, a: {mask.ratio: 0.4}, relation: worse, b: {mask.ratio: 0.6}}\n",
             ["spec.yaml:5:", "relation = worse", "better, as-good-as, alike"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable:\n  rows: [mask.ratio]\n  claims:\n    - {id: x, text: t, a: {mask.patch: 8}, relation: better, b: {mask.ratio: 0.6}}\n",
             ["spec.yaml:5:", "table.claims.a.mask.patch", "not a row or column", "mask.ratio"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable:\n  rows: [mask.ratio]\n  claims:\n    - {id: x, a: {mask.ratio: 0.4}, relation: better, b: {mask.ratio: 0.6}}\n",
             ["spec.yaml:5:", "needs 'text'"]),
            ("grids: [{mask.ratio: [0.4]}]\ntable:\n  rows: [mask.ratio]\n  metrics: [finetune.top1]\n  claims:\n    - {id: x, text: t, metric: linprobe.top1, a: {mask.ratio: 0.4}, relation: better, b: {mask.ratio: 0.6}}\n",
             ["spec.yaml:6:", "table.claims.metric = linprobe.top1", "not a metric of the table", "valid: finetune.top1"]),
        ]
        for (yaml, needles) in cases {
            XCTAssertThrowsError(try spec(yaml), yaml) { e in
                let msg = "\(e)"
                XCTAssertFalse(msg.contains("\n"), msg)
                for n in needles { XCTAssert(msg.contains(n), "\(yaml) → \(msg) (wanted \(n))") }
            }
        }
    }

    /// The committed paper specs expand, and their tables name axes their runs have.
    func testCommittedSpecsExpand() throws {
        let dir = CLI.repoRoot.appendingPathComponent("experiments")
        let names = ["quickstart", "table1-masking", "table2-head", "table3-resolution", "table3-resolution-tiny", "table4-target", "figure3"]
        for n in names {
            let s = try SweepSpec.load(path: dir.appendingPathComponent("\(n).yaml").path)
            XCTAssertGreaterThan(s.runs.count, 1, n)
            let t = try XCTUnwrap(s.table, n)
            for axis in t.rows + t.columns { XCTAssertNotNil(s.runs[0].axisText(axis), "\(n): \(axis)") }
        }
    }

    func testSHA256AndRunIDs() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1000)).prefix(16), "41edece42d63e8d9")
    }
}

final class CanonicalConfigTests: XCTestCase {
    /// Writing a default out (full prediction resolution) is the same run as leaving it out.
    func testDefaultsSpelledOutGiveTheSameRun() throws {
        let a = try RunConfig.parse(yaml: "target: {pred_resolution: 32}")
        let b = try RunConfig.parse(yaml: "")
        let c = try RunConfig.parse(yaml: "target: {pred_resolution: 16}")
        XCTAssertEqual(RunID.of(a), RunID.of(b))
        XCTAssertNotEqual(RunID.of(a), RunID.of(c))
    }
}
