import Foundation
import GRDB
import XCTest
import Results
import Sweep

/// Read commands never write the results database, and what a killed `tables` leaves
/// behind never shows up as a table.
final class ReliabilityTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A database whose spec is complete (so `sweep run` has nothing to do), in rollback or
    /// WAL mode (the committed `results/mimlab.sqlite` is either, depending on who wrote it).
    func completeDatabase(wal: Bool) throws -> (db: String, spec: String) {
        let spec = try CLI.writeSpec(dir, name: "idle", """
            grids: [{mask.ratio: [0.4]}]
            table: {rows: [mask.ratio], metrics: [finetune.top1, linprobe.top1]}

            """)
        let runs = try SweepSpec.load(path: spec).runs
        let db = dir.appendingPathComponent(wal ? "wal.sqlite" : "rollback.sqlite").path
        do {
            let store = try ResultsStore(path: db)
            try store.register(runs.map { ($0.id, $0.canonicalJSON) }, sweep: "idle")
            let claim = try XCTUnwrap(try store.claim(from: runs.map(\.id), worker: WorkerIdentity(), retryFailedBefore: nil))
            try store.complete(id: claim.id, results: ["finetune.top1": 20, "linprobe.top1": 15, "avgdist": 3],
                               metrics: [MetricPoint(phase: "pretrain", step: 10, name: "step_loss", value: 0.4)])
            _ = try store.checkpoint()
        }
        if !wal { try Fixtures.toRollbackJournal(db) }
        for s in ["-wal", "-shm"] { XCTAssertFalse(FileManager.default.fileExists(atPath: db + s), "fixture left \(s)") }
        return (db, spec)
    }

    func testReadCommandsLeaveTheDatabaseByteIdentical() throws {
        for wal in [false, true] {
            let (db, spec) = try completeDatabase(wal: wal)
            let before = try Data(contentsOf: URL(fileURLWithPath: db))
            let shards = dir.appendingPathComponent("no-shards").path
            try FileManager.default.createDirectory(atPath: shards, withIntermediateDirectories: true)
            let commands: [[String]] = [
                ["sweep", "plan", spec], ["sweep", "status", spec], ["tables", spec, "--out", dir.appendingPathComponent("out").path],
                ["query", "--group-by", "mask.ratio"], ["sql", "SELECT status, count(*) FROM runs GROUP BY status"],
                ["sweep", "run", spec], ["results", "merge", shards],
            ]
            for (i, cmd) in commands.enumerated() {
                let o = try CLI.run(cmd + ["--db", db], in: dir, name: "read\(i)")
                XCTAssertEqual(o.status, 0, "\(cmd): \(o.stderr)")
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "\(cmd.prefix(2)) changed the file (wal: \(wal))")
                for s in ["-wal", "-shm", "-journal"] {
                    XCTAssertFalse(FileManager.default.fileExists(atPath: db + s), "\(cmd.prefix(2)) left \(s) (wal: \(wal))")
                }
            }
            let idle = try CLI.run(["sweep", "run", spec, "--db", db], in: dir, name: "idle")
            XCTAssert(idle.stderr.contains("0 to run (the database is only read)"), idle.stderr)
        }
    }

    /// A database another mimlab migrated further is neither read as if it were ours nor
    /// written: the newer migration is named, whichever command opens it.
    func testNewerSchemaIsRefusedByName() throws {
        let (db, spec) = try completeDatabase(wal: false)
        let q = try DatabaseQueue(path: db)
        try q.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-next')") }
        try q.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for cmd in [["sweep", "run", spec], ["sweep", "plan", spec], ["query"], ["results", "checkpoint"]] {
            let o = try CLI.run(cmd + ["--db", db], in: dir, name: "newer")
            XCTAssertEqual(o.status, 2, "\(cmd)")
            XCTAssert(o.stderr.contains("newer mimlab") && o.stderr.contains("v9-next"), o.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before)
    }

    /// `tables` writes each file under a hidden temp name first; one left by a writer that
    /// was killed (its pid gone) is removed by the next `tables`, and none is ever named *.md.
    func testKilledTablesLeavesNoTableBehind() throws {
        let (db, spec) = try completeDatabase(wal: false)
        let out = dir.appendingPathComponent("out")
        let tables = out.appendingPathComponent("tables")
        try FileManager.default.createDirectory(at: tables, withIntermediateDirectories: true)
        // What a writer killed mid-write leaves: pid 2^22 + 1 is above Linux's pid_max default.
        let stale = tables.appendingPathComponent(".idle.md.tmp-4194305-deadbeef")
        try Data("half a tab".utf8).write(to: stale)
        let o = try CLI.run(["tables", spec, "--db", db, "--out", out.path, "--quiet"], in: dir)
        XCTAssertEqual(o.status, 0, o.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: tables.path)
        XCTAssertEqual(names, ["idle.md"])
        XCTAssertFalse(names.contains { $0.hasPrefix(".") })
    }
}
