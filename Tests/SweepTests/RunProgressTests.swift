import XCTest
import Results
import Sweep

/// Where a running run is ("pretrain 312/625") travels with its heartbeat into the
/// database, where the pool's progress line and `sweep status` read it, and is cleared once
/// the run ends or is given back.
final class RunProgressTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var db: String { dir.appendingPathComponent("results.sqlite").path }

    func claimedRuns(_ n: Int) throws -> (ResultsStore, [String], String) {
        let spec = try CLI.writeSpec(dir, "grids: [{mask.ratio: [0.4, 0.5, 0.6]}]\n")
        let runs = try SweepSpec.load(path: spec).runs
        let store = try ResultsStore(path: db)
        try store.register(runs.map { ($0.id, $0.canonicalJSON) }, sweep: "spec")
        var ids: [String] = []
        for _ in 0..<n {
            ids.append(try XCTUnwrap(try store.claim(from: runs.map(\.id), worker: WorkerIdentity(), retryFailedBefore: nil)).id)
        }
        return (store, ids, spec)
    }

    func progress(_ store: ResultsStore, _ id: String) throws -> String? { try store.record(id: id)?.progress }

    func testTheHeartbeatCarriesThePhaseAndStepUntilTheRunEnds() throws {
        let (store, ids, _) = try claimedRuns(2)
        let beat = Heartbeat(store: store, id: ids[0], worker: WorkerIdentity(), interval: 0.05)
        XCTAssertNil(try progress(store, ids[0]), "nothing before the first phase")
        beat.phaseStarted("pretrain", totalSteps: 10)
        for step in 1...3 { beat.stepFinished("pretrain", step: step, loss: 0.5, lr: 1e-3, imagesPerSecond: 10) }
        try CLI.wait("pretrain 3/10 in the database", timeout: 10) { try progress(store, ids[0]) == "pretrain 3/10" }
        beat.phaseStarted("finetune", totalSteps: 20)
        beat.stepFinished("finetune", step: 1, loss: 2.3, lr: 1e-3, imagesPerSecond: 10)
        try CLI.wait("finetune 1/20 in the database", timeout: 10) { try progress(store, ids[0]) == "finetune 1/20" }
        beat.stop()
        try store.complete(id: ids[0], results: ["finetune.top1": 50], metrics: [])
        XCTAssertNil(try progress(store, ids[0]), "a done run has no progress")

        // Given back (Ctrl-C), a run is pending with no progress either.
        try store.heartbeat(id: ids[1], worker: WorkerIdentity(), progress: "pretrain 7/10")
        XCTAssertEqual(try progress(store, ids[1]), "pretrain 7/10")
        try store.heartbeat(id: ids[1], worker: WorkerIdentity())
        XCTAssertEqual(try progress(store, ids[1]), "pretrain 7/10", "a beat without progress keeps the last one")
        try store.release(id: ids[1], worker: WorkerIdentity())
        let released = try XCTUnwrap(try store.record(id: ids[1]))
        XCTAssertEqual(released.status, .pending)
        XCTAssertNil(released.progress)
        store.close()
    }

    func testSweepStatusShowsWhereARunningRunIs() throws {
        let (store, ids, spec) = try claimedRuns(1)
        try store.heartbeat(id: ids[0], worker: WorkerIdentity(), progress: "pretrain 312/625")
        store.close()
        let out = try CLI.run(["sweep", "status", spec, "--db", db], in: dir, name: "status")
        XCTAssertEqual(out.status, 0, out.stderr)
        let line = try XCTUnwrap(out.stdout.split(separator: "\n").first { $0.contains(ids[0]) }, out.stdout)
        XCTAssert(line.contains("| running |") && line.contains("pid \(getpid()), pretrain 312/625 |"), String(line))
    }

    func testThePoolsLineNamesEachRunningRunByItsIdPrefix() {
        var p = LocalPool.Progress(total: 4)
        p.inFlight = [("80ddc65e66b2ea3e", "pretrain 312/625"), ("72035453e1fa504f", "finetune 40/625")]
        XCTAssertEqual(p.runningText, "80ddc65e pretrain 312/625, 72035453 finetune 40/625")
    }
}
