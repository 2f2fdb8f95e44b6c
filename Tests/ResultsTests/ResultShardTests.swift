import Foundation
import XCTest
import Results

/// Result shards (one SQLite file per finished run, as Slurm array tasks write them) and
/// `ResultsStore.merge(shardsIn:)`: what a shard holds gets into the database exactly once,
/// and a bad shard never touches it.
final class ResultShardTests: XCTestCase {
    var fixture: FixtureDB!
    var shards: String { fixture.dir + "/shards" }

    override func setUpWithError() throws { fixture = try FixtureDB() }
    override func tearDownWithError() throws { fixture.remove() }

    static let config = FixtureDB.config(type: "random", patch: 8, ratio: 0.6, seed: 0)

    func run(_ id: String, _ status: RunStatus, attempts: Int = 1, finishedAt: Double = 1_700_000_100,
             sweeps: [String] = ["slurm"], error: String? = nil) -> ResultShard.Run {
        ResultShard.Run(id: id, config: ResultShardTests.config, sweeps: sweeps, status: status, attempts: attempts,
                        host: "node07", pid: 4242, codeVersion: "abc123", blasKernel: "SkylakeX (mimlab)", threads: 4,
                        startedAt: finishedAt - 100,
                        finishedAt: finishedAt, error: error)
    }

    let history = [MetricPoint(phase: "pretrain", step: 1, name: "loss", value: 0.9),
                   MetricPoint(phase: "pretrain", step: 2, name: "loss", value: 0.7),
                   MetricPoint(phase: "finetune", step: 1, name: "top1", value: 31.5)]

    @discardableResult
    func writeDone(_ id: String, top1: Double = 31.5, sweeps: [String] = ["slurm"], finishedAt: Double = 1_700_000_100) throws -> String {
        try ResultShard.write(dir: shards, run: run(id, .done, finishedAt: finishedAt, sweeps: sweeps),
                              results: ["finetune.top1": top1, "pretrain.loss": 0.7, "avgdist": .nan], metrics: history)
    }

    /// Every row of the four tables, in a fixed order: equal snapshots mean an unchanged database.
    func snapshot() throws -> [QueryTable] {
        try ReadOnlySQL.run("""
            SELECT * FROM runs ORDER BY id; SELECT * FROM run_sweeps ORDER BY run_id, sweep;
            SELECT * FROM metrics ORDER BY run_id, phase, step, name; SELECT * FROM results ORDER BY run_id, name
            """, path: fixture.path)
    }

    func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    func testWrittenShardsMergeIntoTheDatabase() throws {
        let path = try writeDone("aaaa000000000001", sweeps: ["slurm", "t1"])
        try ResultShard.write(dir: shards, run: run("aaaa000000000002", .failed, error: "diverged"), results: [:],
                              metrics: Array(history.prefix(1)))
        XCTAssertEqual(path, shards + "/aaaa000000000001.shard.sqlite")
        XCTAssertEqual(files(shards), ["aaaa000000000001.shard.sqlite", "aaaa000000000002.shard.sqlite"],
                       "no temp file or journal is left beside the shards")
        // SQLite header bytes 18-19, the file format versions: 1 = rollback journal, 2 = WAL.
        let header = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).prefix(20))
        XCTAssertEqual(header[18...19], [1, 1], "a shard is one self-contained file, not WAL")
        let read = try ResultShard.read(path: path)
        XCTAssertEqual(read.run, run("aaaa000000000001", .done, sweeps: ["slurm", "t1"]))
        XCTAssertEqual(read.metrics, history.sorted { ($0.phase, $0.step) < ($1.phase, $1.step) })
        XCTAssert(read.results["avgdist"]!.isNaN)

        let store = try ResultsStore(path: fixture.path)
        let report = try store.merge(shardsIn: shards)
        XCTAssertEqual(report.merged, ["aaaa000000000001.shard.sqlite", "aaaa000000000002.shard.sqlite"])
        XCTAssertEqual(report.alreadyPresent, [])
        XCTAssertEqual(report.failed, [])
        XCTAssertEqual(report.incomplete, [])
        XCTAssertEqual(report.summary, "2 merged, 0 already present, 0 failed, 0 incomplete (.tmp)")

        let records = try store.records(ids: ["aaaa000000000001", "aaaa000000000002"])
        let done = try XCTUnwrap(records["aaaa000000000001"])
        XCTAssertEqual(done.status, .done)
        XCTAssertEqual(done.config, ResultShardTests.config)
        XCTAssertEqual(done.host, "node07")
        XCTAssertEqual(done.pid, 4242)
        XCTAssertEqual(done.codeVersion, "abc123")
        XCTAssertEqual(done.finishedAt, 1_700_000_100)
        XCTAssertEqual(done.startedAt, 1_700_000_000)
        let failed = try XCTUnwrap(records["aaaa000000000002"])
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.error, "diverged")
        let results = try store.results(ids: ["aaaa000000000001"])["aaaa000000000001"]
        XCTAssertEqual(results?["finetune.top1"], 31.5)
        XCTAssertEqual(results?["pretrain.loss"], 0.7)
        XCTAssert(results?["avgdist"]?.isNaN == true, "a non-finite result is NULL, as ResultsStore.complete stores it")
        XCTAssertEqual(try store.metrics(id: "aaaa000000000001"), history.sorted { ($0.phase, $0.step) < ($1.phase, $1.step) })
        XCTAssertEqual(try store.metrics(id: "aaaa000000000002").count, 1)
        let sweeps = try ReadOnlySQL.run("SELECT run_id, sweep FROM run_sweeps ORDER BY 1, 2", path: fixture.path)[0].rows
        XCTAssertEqual(sweeps, [[.text("aaaa000000000001"), .text("slurm")], [.text("aaaa000000000001"), .text("t1")],
                                [.text("aaaa000000000002"), .text("slurm")]])
        XCTAssertEqual(files(shards), ["merged"])
        XCTAssertEqual(files(shards + "/merged").filter { !$0.hasPrefix(".") },
                       ["aaaa000000000001.shard.sqlite", "aaaa000000000002.shard.sqlite"])
    }

    func testMergingTwiceChangesNothing() throws {
        try fixture.fill()
        try writeDone("bbbb000000000001")
        try ResultShard.write(dir: shards, run: run("bbbb000000000002", .failed, error: "nan loss"), results: [:], metrics: history)
        let store = try ResultsStore(path: fixture.path)
        XCTAssertEqual(try store.merge(shardsIn: shards).merged.count, 2)
        let counts = try store.rowCounts(), rows = try snapshot()

        let again = try store.merge(shardsIn: shards)
        XCTAssertEqual(again.summary, "0 merged, 0 already present, 0 failed, 0 incomplete (.tmp)")
        XCTAssertEqual(try store.rowCounts(), counts)

        // The same shards handed in again (copied back from merged/): recognised, not re-added.
        for name in ["bbbb000000000001.shard.sqlite", "bbbb000000000002.shard.sqlite"] {
            try FileManager.default.copyItem(atPath: "\(shards)/merged/\(name)", toPath: "\(shards)/\(name)")
        }
        let copies = try store.merge(shardsIn: shards)
        XCTAssertEqual(copies.merged, [])
        XCTAssertEqual(copies.alreadyPresent, ["bbbb000000000001.shard.sqlite", "bbbb000000000002.shard.sqlite"])
        XCTAssertEqual(try store.rowCounts(), counts)
        XCTAssertEqual(try snapshot(), rows)
        let duplicates = try ReadOnlySQL.run("SELECT run_id, name, count(*) FROM results GROUP BY 1, 2 HAVING count(*) > 1",
                                             path: fixture.path)[0].rows
        XCTAssertEqual(duplicates, [])
        XCTAssertEqual(try store.integrityCheck(), "ok")
    }

    func testBadShardsAreReportedAndLeaveTheDatabaseAlone() throws {
        try fixture.fill()
        let store = try ResultsStore(path: fixture.path)
        let counts = try store.rowCounts(), rows = try snapshot()

        // Cut in half: as a copy interrupted or a disk that filled up would leave it.
        let truncated = try writeDone("cccc000000000001")
        let data = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        try Data("this is not a database, just text long enough to fill an SQLite header of one hundred bytes ....".utf8)
            .write(to: URL(fileURLWithPath: shards + "/x.shard.sqlite"))
        try ResultShard.writeFile(at: shards + "/cccc000000000002.shard.sqlite", run: run("cccc000000000002", .done),
                                  results: ["finetune.top1": 50], metrics: [], markComplete: false)
        // A task that died mid-write (or still writes): its temp name, with a whole shard in it.
        try ResultShard.writeFile(at: shards + "/.cccc000000000003.777.tmp", run: run("cccc000000000003", .done),
                                  results: ["finetune.top1": 50], metrics: [])
        let before = files(shards)

        let report = try store.merge(shardsIn: shards)
        XCTAssertEqual(report.merged, [])
        XCTAssertEqual(report.alreadyPresent, [])
        XCTAssertEqual(report.failed.map(\.file), ["cccc000000000001.shard.sqlite", "cccc000000000002.shard.sqlite", "x.shard.sqlite"])
        XCTAssert(report.failed[0].reason.contains("truncated"), report.failed[0].reason)
        XCTAssert(report.failed[1].reason.contains("incomplete"), report.failed[1].reason)
        XCTAssert(report.failed[2].reason.contains("not an SQLite database"), report.failed[2].reason)
        XCTAssertEqual(report.incomplete.map(\.file), [".cccc000000000003.777.tmp"])
        XCTAssertEqual(report.summary, "0 merged, 0 already present, 3 failed, 1 incomplete (.tmp)")

        XCTAssertEqual(files(shards), (before + ["merged"]).sorted(), "bad shards stay where they are")
        XCTAssertEqual(try store.rowCounts(), counts)
        XCTAssertEqual(try snapshot(), rows)
        XCTAssertEqual(try store.integrityCheck(), "ok")
        XCTAssertThrowsError(try ResultShard.read(path: truncated)) { error in
            XCTAssert("\(error)".hasPrefix(truncated + ": "), "the error names the file: \(error)")
        }
    }

    func testDoneShardReplacesAFailedAttempt() throws {
        let store = try ResultsStore(path: fixture.path)
        // A failed attempt merged, then the retry's done shard.
        try ResultShard.write(dir: shards, run: run("dddd000000000001", .failed, attempts: 1, finishedAt: 1_700_000_100,
                                                     error: "out of memory"), results: [:], metrics: history)
        XCTAssertEqual(try store.merge(shardsIn: shards).merged, ["dddd000000000001.shard.sqlite"])
        XCTAssertEqual(try store.record(id: "dddd000000000001")?.status, .failed)
        try ResultShard.write(dir: shards, run: run("dddd000000000001", .done, attempts: 2, finishedAt: 1_700_000_900),
                              results: ["finetune.top1": 44], metrics: Array(history.prefix(2)))
        // A failed attempt and its retry written before any merge: the retry's shard replaced it.
        try ResultShard.write(dir: shards, run: run("dddd000000000002", .failed, attempts: 1, error: "killed"),
                              results: [:], metrics: [])
        try writeDone("dddd000000000002", top1: 46)
        XCTAssertEqual(files(shards).filter { $0 != "merged" }, ["dddd000000000001.shard.sqlite", "dddd000000000002.shard.sqlite"])

        let report = try store.merge(shardsIn: shards)
        XCTAssertEqual(report.merged, ["dddd000000000001.shard.sqlite", "dddd000000000002.shard.sqlite"])
        let records = try store.records(ids: ["dddd000000000001", "dddd000000000002"])
        XCTAssertEqual(records["dddd000000000001"]?.status, .done)
        XCTAssertEqual(records["dddd000000000001"]?.attempts, 2)
        XCTAssertNil(records["dddd000000000001"]?.error)
        XCTAssertEqual(records["dddd000000000002"]?.status, .done)
        let results = try store.results(ids: ["dddd000000000001", "dddd000000000002"])
        XCTAssertEqual(results["dddd000000000001"]?["finetune.top1"], 44)
        XCTAssertEqual(results["dddd000000000002"]?["finetune.top1"], 46)
        XCTAssertEqual(try store.metrics(id: "dddd000000000001").count, 2, "the failed attempt's history is replaced")
    }

    func testFailedShardDoesNotOverwriteADoneRun() throws {
        let store = try ResultsStore(path: fixture.path)
        try writeDone("eeee000000000001", top1: 52)
        XCTAssertEqual(try store.merge(shardsIn: shards).merged, ["eeee000000000001.shard.sqlite"])
        let rows = try snapshot()
        // A later attempt of the same run that failed (a duplicate task, a requeue), from another sweep.
        try ResultShard.write(dir: shards, run: run("eeee000000000001", .failed, attempts: 2, finishedAt: 1_700_009_000,
                                                     sweeps: ["slurm"], error: "node failure"),
                              results: [:], metrics: [])
        let report = try store.merge(shardsIn: shards)
        XCTAssertEqual(report.merged, [])
        XCTAssertEqual(report.alreadyPresent, ["eeee000000000001.shard.sqlite"])
        XCTAssertEqual(report.failed, [])
        XCTAssertEqual(try snapshot(), rows)
        XCTAssertEqual(try store.record(id: "eeee000000000001")?.status, .done)
        XCTAssertEqual(try store.results(ids: ["eeee000000000001"])["eeee000000000001"]?["finetune.top1"], 52)
    }

    /// A run the database knows (registered by a sweep, or run locally) takes the shard's
    /// attempt and gains its sweep links; a shard whose config differs is refused.
    func testShardOfARegisteredRunUpdatesItAndAConflictingConfigIsRefused() throws {
        let store = try ResultsStore(path: fixture.path)
        try store.register([(id: "ffff000000000001", config: ResultShardTests.config),
                            (id: "ffff000000000002", config: "{\"seed\":1}")], sweep: "grid")
        try writeDone("ffff000000000001", sweeps: ["grid", "slurm"])
        try writeDone("ffff000000000002")
        let report = try store.merge(shardsIn: shards)
        XCTAssertEqual(report.merged, ["ffff000000000001.shard.sqlite"])
        XCTAssertEqual(report.failed.map(\.file), ["ffff000000000002.shard.sqlite"])
        XCTAssert(report.failed[0].reason.contains("another config"), report.failed[0].reason)
        XCTAssertEqual(files(shards).filter { $0 != "merged" }, ["ffff000000000002.shard.sqlite"], "the refused shard is left in place")
        XCTAssertEqual(try store.record(id: "ffff000000000001")?.status, .done)
        XCTAssertEqual(try store.record(id: "ffff000000000002")?.status, .pending)
        let sweeps = try ReadOnlySQL.run("SELECT sweep FROM run_sweeps WHERE run_id = 'ffff000000000001' ORDER BY 1",
                                         path: fixture.path)[0].rows
        XCTAssertEqual(sweeps, [[.text("grid")], [.text("slurm")]])
    }

    /// A shard a merge had claimed when it died (`merged/.<name>.merging`) is merged by the next one.
    func testClaimLeftByADeadMergeIsMergedAgain() throws {
        let store = try ResultsStore(path: fixture.path)
        let path = try writeDone("abab000000000001")
        try FileManager.default.createDirectory(atPath: shards + "/merged", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: path, toPath: shards + "/merged/.abab000000000001.shard.sqlite.merging")
        XCTAssertEqual(try store.merge(shardsIn: shards).merged, ["abab000000000001.shard.sqlite"])
        XCTAssertEqual(files(shards + "/merged"), [".lock", "abab000000000001.shard.sqlite"])
        XCTAssertEqual(try store.record(id: "abab000000000001")?.status, .done)
    }

    func testWriteRefusesWhatNoShardShouldHold() throws {
        XCTAssertThrowsError(try ResultShard.write(dir: shards, run: run("../escape", .done), results: [:], metrics: []))
        XCTAssertThrowsError(try ResultShard.write(dir: shards, run: run("abcd", .running), results: [:], metrics: []))
        XCTAssertThrowsError(try ResultShard.write(dir: shards, run: run("abcd", .failed), results: ["finetune.top1": 1], metrics: [])) {
            XCTAssert("\($0)".contains("failed run has no results"), "\($0)")
        }
        XCTAssertEqual(files(shards), [])
    }
}
