import Foundation
import GRDB
import XCTest
import Results
import Sweep

/// Several hundred malformed inputs, generated, against every command that takes a file or
/// a value (specs, run configs, `--set`, databases, shards, case files, task lists, SQL,
/// query filters, avgdist and sweep options). Each must end with exit status non-zero, one
/// line on stderr that starts `mimlab: error:` and names the file or option, no crash trace,
/// within a few seconds, and leave the results database byte-identical with no -wal/-shm.
final class FuzzTests: XCTestCase {
    struct Case {
        var name: String
        var args: [String]
        /// Files written into the case's directory first (relative name → bytes).
        var files: [String: Data] = [:]
        /// The database the case runs against: a copy of one of the fixtures, at {db}.
        var db: Data? = nil
        /// stderr must name one of these (the file, option or field at fault).
        var names: [String]
        /// `results merge`: a report on stdout and exit 1, not an error line.
        var report = false
        var env: [String: String] = [:]
    }

    final class Verdicts: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(Case, Verdict, String)] = []
        func add(_ v: (Case, Verdict, String)) { lock.withLock { items.append(v) } }
        var all: [(Case, Verdict, String)] { lock.withLock { items } }
    }

    enum Verdict: String { case clean, crash, hang, silent, unclear, dbChanged = "db change" }

    static let seed: UInt64 = 20261201
    static let timeout: TimeInterval = 20

    func testMalformedInputsFailCleanly() throws {
        let root = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let fixtures = try Fixtures(dir: root.appendingPathComponent("fixtures"))
        let cases = FuzzCases(fixtures: fixtures).all
        XCTAssertGreaterThanOrEqual(cases.count, 300)

        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 4
        let collected = Verdicts()
        for (i, c) in cases.enumerated() {
            queue.addOperation {
                let (v, why) = self.check(c, dir: root.appendingPathComponent("case\(i)"))
                collected.add((c, v, why))
            }
        }
        queue.waitUntilAllOperationsAreFinished()
        let verdicts = collected.all

        func count(_ v: Verdict) -> Int { verdicts.filter { $0.1 == v }.count }
        print("fuzz suite: \(cases.count) malformed inputs tried, \(count(.clean)) clean errors, \(count(.crash)) crashes, "
              + "\(count(.hang)) hangs, \(count(.silent)) silent acceptances, \(count(.dbChanged)) database changes, "
              + "\(count(.unclear)) unclear messages (seed \(FuzzTests.seed))")
        for (c, v, why) in verdicts where v != .clean {
            XCTFail("\(v.rawValue): \(c.name): mimlab \(c.args.joined(separator: " ").prefix(160)): \(why.prefix(400))")
        }
    }

    /// Runs one case in its own directory and judges it.
    func check(_ c: Case, dir: URL) -> (Verdict, String) {
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, data) in c.files {
                let url = dir.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: url)
            }
            let db = dir.appendingPathComponent("db.sqlite").path
            if let data = c.db { try data.write(to: URL(fileURLWithPath: db)) }
            let args = c.args.map { $0.replacingOccurrences(of: "{dir}", with: dir.path).replacingOccurrences(of: "{db}", with: db) }
            let (p, output) = try CLI.start(args, in: dir, name: "fuzz", cwd: dir, env: c.env)
            let deadline = Date().addingTimeInterval(FuzzTests.timeout)
            while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                _ = output()
                return (.hang, "still running after \(Int(FuzzTests.timeout)) s")
            }
            let o = output()
            let stderr = o.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if p.terminationReason == .uncaughtSignal || ["Fatal error", "Stack dump", "stack trace", "Illegal instruction", "Segmentation"]
                .contains(where: { o.stderr.contains($0) }) {
                return (.crash, "signal \(p.terminationStatus): \(stderr)")
            }
            if let data = c.db {
                let now = FileManager.default.contents(atPath: db)
                if now != data { return (.dbChanged, "the database file changed") }
                for suffix in ["-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: db + suffix) {
                    return (.dbChanged, "left \(suffix) beside the database")
                }
            }
            if o.status == 0 { return (.silent, "exit 0; stdout: \(o.stdout.prefix(200)) stderr: \(stderr)") }
            if c.report {
                let text = o.stdout + o.stderr
                guard o.status == 1 || o.status == 2, c.names.contains(where: { text.contains($0) }) else {
                    return (.unclear, "status \(o.status); output: \(text.prefix(300))")
                }
                return (.clean, "")
            }
            let lines = stderr.split(separator: "\n")
            guard lines.count == 1, stderr.hasPrefix("mimlab: error: "), o.status == 2 else {
                return (.unclear, "status \(o.status), \(lines.count) stderr lines: \(stderr)")
            }
            guard c.names.contains(where: { stderr.contains($0) }) else {
                return (.unclear, "names none of \(c.names): \(stderr)")
            }
            return (.clean, "")
        } catch {
            return (.unclear, "test harness: \(error)")
        }
    }
}

/// The databases, shard and run the cases start from: real schema, written through mimlab's
/// own store, then bent with raw SQL into what mimlab would never write.
struct Fixtures {
    let good: Data
    /// The spec whose runs `good` holds (one done, one pending), as text.
    let specText: String
    let runID: String
    let config: String
    let shard: Data

    init(dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        specText = "name: fz\nbase: \(CLI.repoRoot.path)/experiments/smoke.yaml\ngrids: [{mask.ratio: [0.4, 0.6]}]\n"
        let spec = try SweepSpec.parse(yaml: specText, path: dir.appendingPathComponent("spec.yaml").path)
        let path = dir.appendingPathComponent("good.sqlite").path
        do {
            let store = try ResultsStore(path: path)
            try store.register(spec.runs.map { ($0.id, $0.canonicalJSON) }, sweep: "fz")
            let claim = try XCTUnwrap(try store.claim(from: [spec.runs[0].id], worker: WorkerIdentity(), retryFailedBefore: nil))
            try store.complete(id: claim.id, results: ["finetune.top1": 12.5, "linprobe.top1": 11, "avgdist": 3.2],
                               metrics: [MetricPoint(phase: "pretrain", step: 10, name: "step_loss", value: 0.5)])
            _ = try store.checkpoint()
        }
        try Fixtures.toRollbackJournal(path)
        good = try Data(contentsOf: URL(fileURLWithPath: path))
        runID = spec.runs[0].id
        config = spec.runs[0].canonicalJSON
        let shards = dir.appendingPathComponent("shards").path
        try ResultShard.write(dir: shards, run: ResultShard.Run(
            id: runID, config: config, sweeps: ["fz"], status: .done, attempts: 1, host: "h", pid: 1, codeVersion: "t",
            startedAt: 1, finishedAt: 2, error: nil), results: ["finetune.top1": 1], metrics: [])
        shard = try Data(contentsOf: URL(fileURLWithPath: "\(shards)/\(ResultShard.fileName(id: runID))"))
    }

    /// One self-contained file (no -wal to copy along), as a committed database is.
    static func toRollbackJournal(_ path: String) throws {
        let q = try DatabaseQueue(path: path)
        try q.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
        try q.close()
    }

    /// `good` with `sql` applied (CHECK constraints off, so it can hold what mimlab refuses).
    func bent(_ sql: String, in dir: URL, _ name: String) throws -> Data {
        try Self.bend(good, sql, at: dir.appendingPathComponent("\(name).sqlite").path)
    }

    /// The shard with `sql` applied.
    func bentShard(_ sql: String, in dir: URL, _ name: String) throws -> Data {
        try Self.bend(shard, sql, at: dir.appendingPathComponent("\(name).shard.sqlite").path)
    }

    /// `file` written to `path`, `sql` applied with foreign keys and CHECK constraints off,
    /// and read back.
    static func bend(_ file: Data, _ sql: String, at path: String) throws -> Data {
        try file.write(to: URL(fileURLWithPath: path))
        var config = Configuration()
        config.foreignKeysEnabled = false
        let q = try DatabaseQueue(path: path, configuration: config)
        try q.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: sql)
        }
        try q.close()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
