import XCTest
import Results
import Sweep

/// `mimlab query`, `mimlab sql` and `mimlab tables` on a database a real sweep wrote.
final class ResultsCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var db: String { dir.appendingPathComponent("results.sqlite").path }

    /// Two ratios x two seeds of the smoke config, with a table section.
    func sweep() throws -> (spec: String, results: [String: [String: Double]], runs: [PlannedRun]) {
        let spec = try CLI.writeSpec(dir, """
            grids: [{mask.ratio: [0.4, 0.6]}]
            seeds: 2
            table:
              name: smoke-table
              paper: simmim.table1_masking
              rows: [mask.type, mask.patch, mask.ratio]
              metrics: [finetune.top1]
              paper_keys: {mask.type: mask_type, mask.patch: mask_patch, mask.ratio: mask_ratio}
              paper_values: {mask.patch: {8: 32}}
              avgdist: true
              figures: [avgdist-vs-ratio, top1-vs-avgdist]

            """)
        let o = try CLI.run(["sweep", "run", spec, "--db", db], in: dir)
        XCTAssertEqual(o.status, 0, o.stderr)
        let runs = try SweepSpec.load(path: spec).runs
        return (spec, try ResultsStore(path: db).results(ids: runs.map(\.id)), runs)
    }

    func testQueryAggregatesWhatTheSweepRecorded() throws {
        let (_, results, runs) = try sweep()
        let q = try CLI.run(["query", "--db", db, "--group-by", "mask.ratio", "--format", "csv"], in: dir)
        XCTAssertEqual(q.status, 0, q.stderr)
        let lines = q.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "mask.ratio,runs,n,mean,std,min,max")
        XCTAssertEqual(lines.count, 3, q.stdout)
        for (row, ratio) in zip(lines.dropFirst(), [0.4, 0.6]) {
            let top1 = runs.filter { $0.axisText("mask.ratio") == String(ratio) }.compactMap { results[$0.id]?["finetune.top1"] }
            XCTAssertEqual(top1.count, 2)
            let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(cells[0], String(ratio))
            XCTAssertEqual(cells[2], "2")
            XCTAssertEqual(try XCTUnwrap(Double(cells[3])), top1.reduce(0, +) / 2, accuracy: 1e-3)
            XCTAssertEqual(try XCTUnwrap(Double(cells[5])), top1.min()!, accuracy: 1e-3)
        }
        // A filter that matches one ratio, and an unknown axis that names what exists.
        let one = try CLI.run(["query", "--db", db, "--where", "mask.ratio=0.6", "--format", "json"], in: dir, name: "one")
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssert(one.stdout.contains("\"n\": 2") || one.stdout.contains("\"n\":2"), one.stdout)
        let bad = try CLI.run(["query", "--db", db, "--group-by", "mask.colour"], in: dir, name: "bad")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.stderr.contains("mask.colour") && bad.stderr.contains("mask.ratio"), bad.stderr)
    }

    func testSQLReadsAndRefusesEveryWrite() throws {
        _ = try sweep()
        let ok = try CLI.run(["sql", "--db", db, "SELECT status, count(*) AS n FROM runs GROUP BY status", "--format", "csv"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "status,n\ndone,4\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for write in ["DELETE FROM runs", "UPDATE runs SET status = 'failed'", "DROP TABLE results",
                      "INSERT INTO results VALUES ('x', 'y', 1)", "PRAGMA journal_mode = DELETE",
                      "SELECT 1; DELETE FROM runs", "ATTACH DATABASE '/tmp/x.sqlite' AS x", "VACUUM"] {
            let o = try CLI.run(["sql", "--db", db, write], in: dir, name: "write")
            XCTAssertNotEqual(o.status, 0, write)
            XCTAssert(o.stderr.contains("read-only") || o.stderr.contains("refus"), "\(write): \(o.stderr)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "refused writes left the database as it was")
        let count = try CLI.run(["sql", "--db", db, "SELECT count(*) AS n FROM results WHERE name = 'finetune.top1'", "--format", "csv"], in: dir, name: "count")
        XCTAssertEqual(count.stdout, "n\n4\n")
    }

    /// The same database gives byte-identical tables and figures; the table holds the runs'
    /// means beside the paper's numbers.
    func testTablesAreRegeneratedByteIdentically() throws {
        let (spec, results, runs) = try sweep()
        let out1 = dir.appendingPathComponent("out1").path, out2 = dir.appendingPathComponent("out2").path
        for out in [out1, out2] {
            let o = try CLI.run(["tables", spec, "--db", db, "--out", out, "--quiet"], in: dir, name: "tables")
            XCTAssertEqual(o.status, 0, o.stderr)
        }
        let files = ["tables/smoke-table.md", "figures/smoke-table-avgdist-vs-ratio.svg", "figures/smoke-table-top1-vs-avgdist.svg"]
        for f in files {
            let a = try Data(contentsOf: URL(fileURLWithPath: "\(out1)/\(f)")), b = try Data(contentsOf: URL(fileURLWithPath: "\(out2)/\(f)"))
            XCTAssertEqual(a, b, f)
        }
        let md = try String(contentsOfFile: "\(out1)/tables/smoke-table.md", encoding: .utf8)
        let top1 = runs.filter { $0.axisText("mask.ratio") == "0.6" }.compactMap { results[$0.id]?["finetune.top1"] }
        let mean = String(format: "%.1f", top1.reduce(0, +) / Double(top1.count))
        let row = try XCTUnwrap(md.split(separator: "\n").first { $0.contains("| 0.6 ") }, md)
        XCTAssert(row.contains("\(mean) ±") && row.contains("(2)") && row.contains("82.8"), String(row))
        XCTAssert(md.contains("runs: 4 done, 0 failed"), md)
    }

    /// With no spec named, `tables` takes every sweep spec in experiments/ and passes over
    /// the run configs kept there.
    func testTablesDefaultsToTheSweepSpecsInExperiments() throws {
        let (spec, _, _) = try sweep()
        let exp = dir.appendingPathComponent("experiments")
        try FileManager.default.createDirectory(at: exp, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: spec, toPath: exp.appendingPathComponent("smoke-sweep.yaml").path)
        try FileManager.default.copyItem(atPath: "\(CLI.repoRoot.path)/experiments/smoke.yaml", toPath: exp.appendingPathComponent("smoke.yaml").path)
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("paper"), withDestinationURL: CLI.repoRoot.appendingPathComponent("paper"))
        let o = try CLI.run(["tables", "--db", db, "--quiet"], in: dir, name: "default", cwd: dir)
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssert(FileManager.default.fileExists(atPath: dir.appendingPathComponent("results/tables/smoke-table.md").path))
    }
}
