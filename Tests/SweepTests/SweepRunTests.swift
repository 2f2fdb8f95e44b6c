import XCTest
import Results
import Sweep

/// `mimlab sweep run` as a researcher uses it: interrupted, killed, run twice at once, with
/// a run that diverges. Each test drives the release binary on a throw-away database.
final class SweepRunTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var db: String { dir.appendingPathComponent("results.sqlite").path }

    func records(_ spec: String) throws -> [RunRecord] {
        let s = try SweepSpec.load(path: spec)
        let r = try ResultsStore(path: db).records(ids: s.runs.map(\.id))
        return s.runs.compactMap { r[$0.id] }
    }

    /// Every run of the spec done exactly once per recorded attempt, one row each, and the
    /// database sound.
    func assertSound(_ spec: String, runs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try ResultsStore(path: db)
        XCTAssertEqual(try store.integrityCheck(), "ok", file: file, line: line)
        let counts = try store.rowCounts()
        XCTAssertEqual(counts["runs"], runs, file: file, line: line)
        let recs = try records(spec)
        XCTAssertEqual(recs.count, runs, file: file, line: line)
        let results = try store.results(ids: recs.map(\.id))
        for r in recs {
            XCTAssertEqual(r.status, .done, "\(r.id): \(r.error ?? "")", file: file, line: line)
            XCTAssertNotNil(results[r.id]?["finetune.top1"], file: file, line: line)
        }
        // One results row per (run, name): the totals add up to the runs' own counts.
        XCTAssertEqual(counts["results"], results.values.reduce(0) { $0 + $1.count }, file: file, line: line)
    }

    /// kill -9 of the runner mid-run, then Ctrl-C of the next one: each time the next
    /// `sweep run` runs only what is missing, the in-flight run again, nothing twice.
    func testInterruptedSweepsResumeWithoutRepeatsOrLoss() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 3}\ngrids: [{mask.ratio: [0.4, 0.5, 0.6, 0.7]}]\n")

        // 1. kill -9 once a run is done and the next one is in flight.
        let (p1, _) = try CLI.start(["sweep", "run", spec, "--db", db], in: dir, name: "first")
        // Generous: under a loaded machine (CI beside other suites) a smoke run takes minutes.
        try CLI.wait("one run done and one running", timeout: 400) {
            let r = (try? records(spec)) ?? []
            return r.contains { $0.status == .done } && r.contains { $0.status == .running && $0.pid == Int(p1.processIdentifier) }
        }
        kill(p1.processIdentifier, SIGKILL)
        p1.waitUntilExit()
        let afterKill = try records(spec)
        let doneBefore = Set(afterKill.filter { $0.status == .done }.map(\.id))
        let inFlight = try XCTUnwrap(afterKill.first { $0.status == .running })
        let plan = try CLI.run(["sweep", "plan", spec, "--db", db], in: dir, name: "plan")
        XCTAssert(plan.stdout.contains("| \(inFlight.id) | stale |"), plan.stdout)

        // 2. Ctrl-C (SIGINT) of the second runner while a run is in flight: it gives the run back.
        let (p2, out2) = try CLI.start(["sweep", "run", spec, "--db", db], in: dir, name: "second")
        var interrupted = ""
        try CLI.wait("the second runner to take a run", timeout: 400) {
            guard let r = try? records(spec).first(where: { $0.status == .running && $0.pid == Int(p2.processIdentifier) }) else { return false }
            interrupted = r.id
            return true
        }
        kill(p2.processIdentifier, SIGINT)
        let o2 = out2()
        XCTAssertEqual(o2.status, 130, o2.stderr)
        let afterInt = try records(spec)
        XCTAssertEqual(afterInt.first { $0.id == interrupted }?.status, .pending)
        XCTAssertEqual(afterInt.filter { $0.status == .running }.count, 0, "the stale run was taken over by the second runner")

        // 3. The third runner finishes the rest; runs done before keep their single attempt.
        let o3 = try CLI.run(["sweep", "run", spec, "--db", db], in: dir, name: "third")
        XCTAssertEqual(o3.status, 0, o3.stderr)
        try assertSound(spec, runs: 4)
        for r in try records(spec) {
            if doneBefore.contains(r.id) { XCTAssertEqual(r.attempts, 1, r.id) }
            if r.id == inFlight.id { XCTAssertGreaterThanOrEqual(r.attempts, 2) }
        }
        // 4. Nothing is left: a fourth run starts nothing.
        let o4 = try CLI.run(["sweep", "run", spec, "--db", db], in: dir, name: "fourth")
        XCTAssertEqual(o4.status, 0)
        XCTAssert(o4.stderr.contains("0 to run"), o4.stderr)
        XCTAssertEqual(try records(spec).map(\.attempts), try records(spec).map(\.attempts))
    }

    /// kill -9 of a pool runner: both workers notice within seconds, give their runs back
    /// (pending again) and exit; the next runner completes the sweep.
    func testKilledPoolRunnerLeavesNoOrphans() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 3}\ngrids: [{mask.ratio: [0.4, 0.5, 0.6, 0.7]}]\n")
        let (p, _) = try CLI.start(["sweep", "run", spec, "--db", db, "--workers", "2"], in: dir, name: "pool")
        try CLI.wait("two runs in flight") { ((try? records(spec)) ?? []).filter { $0.status == .running }.count == 2 }
        let inFlight = try records(spec).filter { $0.status == .running }
        let workers = inFlight.compactMap { $0.pid.map(Int32.init) }
        XCTAssertEqual(Set(workers).count, 2)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let killed = Date()
        try CLI.wait("orphaned workers to exit", timeout: 5) { workers.allSatisfy { !WorkerIdentity.processAlive($0) } }
        XCTAssertLessThan(Date().timeIntervalSince(killed), 5)
        let after = Dictionary(uniqueKeysWithValues: try records(spec).map { ($0.id, $0) })
        for r in inFlight { XCTAssertEqual(after[r.id]?.status, .pending, "run \(r.id) was given back") }
        let o = try CLI.run(["sweep", "run", spec, "--db", db, "--workers", "2"], in: dir, name: "resume")
        XCTAssertEqual(o.status, 0, o.stderr)
        try assertSound(spec, runs: 4)
    }

    /// Two runners on one database at once: both finish, no "database is locked", and each
    /// run is executed exactly once.
    func testTwoConcurrentRunnersShareTheWork() throws {
        let spec = try CLI.writeSpec(dir, "grids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}]\n")
        let a = try CLI.start(["sweep", "run", spec, "--db", db, "--threads", "1"], in: dir, name: "a")
        let b = try CLI.start(["sweep", "run", spec, "--db", db, "--threads", "1"], in: dir, name: "b")
        let (oa, ob) = (a.1(), b.1())
        XCTAssertEqual(oa.status, 0, oa.stderr)
        XCTAssertEqual(ob.status, 0, ob.stderr)
        for o in [oa, ob] { XCTAssertFalse(o.stderr.lowercased().contains("locked"), o.stderr) }
        try assertSound(spec, runs: 6)
        XCTAssertEqual(try records(spec).map(\.attempts), Array(repeating: 1, count: 6))
        let pids = Set(try records(spec).compactMap(\.pid))
        XCTAssertEqual(pids, [Int(a.0.processIdentifier), Int(b.0.processIdentifier)], "both runners did some of the work")
    }

    /// A run whose loss becomes NaN is recorded as failed with the reason; the others finish;
    /// it is not retried unless asked.
    func testDivergingRunIsRecordedAsFailed() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.clip_grad: 0}\ngrids: [{pretrain.base_lr: [8.0e-3, 1.0e+9, 4.0e-3]}]\n")
        let o = try CLI.run(["sweep", "run", spec, "--db", db], in: dir)
        XCTAssertEqual(o.status, 1, o.stderr)
        let recs = try records(spec)
        XCTAssertEqual(recs.map(\.status), [.done, .failed, .done])
        XCTAssert(recs[1].error?.contains("pretrain diverged at step") == true, recs[1].error ?? "")
        XCTAssert(o.stdout.contains("failed \(recs[1].id)"), o.stdout)
        let again = try CLI.run(["sweep", "run", spec, "--db", db], in: dir, name: "again")
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(try records(spec)[1].attempts, 1, "failed runs are kept until --retry-failed")
        let retry = try CLI.run(["sweep", "run", spec, "--db", db, "--retry-failed"], in: dir, name: "retry")
        XCTAssertEqual(retry.status, 1)
        XCTAssertEqual(try records(spec)[1].attempts, 2)
    }

    /// A single run whose fine-tune loss becomes NaN (the issue's "EncodingError.invalidValue:
    /// nan") ends with one line naming the phase and the step, not an encoder's dump.
    func testDivergingSingleRunIsOneLine() throws {
        let o = try CLI.run(["run", CLI.repoRoot.appendingPathComponent("experiments/smoke.yaml").path,
                             "--set", "pretrain.epochs=0", "--set", "finetune.base_lr=1e11",
                             "--out", dir.appendingPathComponent("nan").path, "--json"], in: dir, name: "nan")
        XCTAssertEqual(o.status, 2, o.stderr)
        let lines = o.stderr.split(separator: "\n").filter { $0.hasPrefix("mimlab: error:") }
        XCTAssertEqual(lines.count, 1, o.stderr)
        XCTAssert(lines.first?.contains("finetune diverged at step") == true, o.stderr)
        XCTAssertFalse(o.stderr.contains("EncodingError") || o.stderr.contains("Fatal error"), o.stderr)
    }

    /// A malformed spec fails before anything is written: an existing database keeps its
    /// bytes, a missing one is not created; `plan` never writes.
    func testMalformedSpecLeavesTheDatabaseUntouched() throws {
        let good = try CLI.writeSpec(dir, name: "good", "grids: [{mask.ratio: [0.4]}]\n")
        XCTAssertEqual(try CLI.run(["sweep", "run", good, "--db", db], in: dir).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let bad = try CLI.writeSpec(dir, name: "bad", "grids:\n  - {mask.ratio: [0.4]}\n  - {mask.patch: [4, 5]}\n")
        for cmd in ["run", "plan", "status"] {
            let o = try CLI.run(["sweep", cmd, bad, "--db", db], in: dir, name: "bad-\(cmd)")
            XCTAssertEqual(o.status, 2, cmd)
            XCTAssert(o.stderr.contains("bad.yaml:5:"), o.stderr)
            XCTAssert(o.stderr.contains("mask.patch"), o.stderr)
            XCTAssertFalse(o.stderr.contains("Fatal error"), o.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before)
        let fresh = dir.appendingPathComponent("never.sqlite").path
        _ = try CLI.run(["sweep", "run", bad, "--db", fresh], in: dir, name: "bad-fresh")
        let plan = try CLI.run(["sweep", "plan", good, "--db", fresh], in: dir, name: "plan-fresh")
        XCTAssertEqual(plan.status, 0)
        XCTAssert(plan.stdout.contains("1 new"), plan.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
    }

    /// Every committed paper spec can be planned without running or writing anything.
    func testPlanOfEachPaperSpecRunsNothing() throws {
        let missing = dir.appendingPathComponent("none.sqlite").path
        for n in ["quickstart", "table1-masking", "table2-head", "table3-resolution", "table4-target", "figure3",
                  "mae-table1a-decoder-depth", "mae-table1b-decoder-width", "mae-table1c-mask-token", "mae-table1d-target",
                  "mae-figure5-ratio"] {
            let path = CLI.repoRoot.appendingPathComponent("experiments/\(n).yaml").path
            let o = try CLI.run(["sweep", "plan", path, "--db", missing], in: dir, name: "plan-\(n)")
            XCTAssertEqual(o.status, 0, o.stderr)
            let runs = try SweepSpec.load(path: path).runs
            XCTAssert(o.stdout.contains("\(runs.count) new"), o.stdout)
            XCTAssert(o.stdout.contains("estimated"), o.stdout)
            for r in runs { XCTAssert(o.stdout.contains("| \(r.id) | new |"), "\(n): \(r.id)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }
}
