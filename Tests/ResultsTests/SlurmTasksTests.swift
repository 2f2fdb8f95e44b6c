import XCTest
import Results

/// The bookkeeping that keeps a run from being submitted to Slurm twice at once: a
/// submission reserves runs, confirms them with its job id, and a run is free again only
/// once its task has left the queue or its submitter died before sbatch.
final class SlurmTasksTests: XCTestCase {
    var dir: String!
    var store: ResultsStore!
    let me = WorkerIdentity(codeVersion: "test")

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-slurmtasks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        store = try ResultsStore(path: "\(dir!)/r.sqlite")
        try store.register([("a", "{}"), ("b", "{}"), ("c", "{}")], sweep: "s")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A pid that is certainly not running: a child that has exited and been reaped.
    func deadPid() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func testReservedRunsAreNotReservedAgainUntilTheirTaskLeavesTheQueue() throws {
        let ids = ["a", "b", "c"]
        var seen = try store.slurmTasks(ids: ids)
        XCTAssertEqual(try store.reserveSlurmTasks(ids, seen: seen, liveTasks: [], submission: "/s1", worker: me), ids)
        let rows = try store.slurmTasks(ids: ids)
        XCTAssertEqual(rows.mapValues(\.arrayIndex), ["a": 0, "b": 1, "c": 2])
        XCTAssertNil(rows["a"]?.jobID)

        // Another live submitter (here: this test's parent process) sees the reservations and takes nothing.
        let other = WorkerIdentity(pid: getppid(), codeVersion: "test")
        seen = try store.slurmTasks(ids: ids)
        XCTAssertEqual(try store.reserveSlurmTasks(ids, seen: seen, liveTasks: [], submission: "/s2", worker: other), [])

        // Confirmed as job 12: queued tasks are not submitted again; gone ones are.
        try store.confirmSlurmTasks(["a": 1, "b": 1, "c": 1], jobID: "12", worker: me)
        XCTAssertEqual(try store.slurmTasks(ids: ids)["b"]?.taskID, "12_1")
        XCTAssertEqual(try store.records(ids: ids)["b"]?.attempts, 1, "a submission is an attempt")
        seen = try store.slurmTasks(ids: ids)
        XCTAssertEqual(try store.reserveSlurmTasks(ids, seen: seen, liveTasks: ["12_0", "12_2"], submission: "/s2", worker: other), ["b"])
        XCTAssertEqual(try store.slurmTasks(ids: ["b"])["b"]?.arrayIndex, 0, "indices count the new submission's tasks")
    }

    func testDoneRunsAndRunsChangedSinceReadAreSkipped() throws {
        let worker = WorkerIdentity(codeVersion: "test")
        let claim = try XCTUnwrap(store.claim(from: ["a"], worker: worker, retryFailedBefore: nil))
        try store.complete(id: claim.id, results: ["finetune.top1": 10], metrics: [])
        let stale = try store.slurmTasks(ids: ["b", "c"])  // read before another submitter reserved c
        let other = WorkerIdentity(pid: getppid(), codeVersion: "test")
        XCTAssertEqual(try store.reserveSlurmTasks(["c"], seen: stale, liveTasks: [], submission: "/x", worker: other), ["c"])
        XCTAssertEqual(try store.reserveSlurmTasks(["a", "b", "c"], seen: stale, liveTasks: [], submission: "/y", worker: me), ["b"])
    }

    func testAReservationWhoseSubmitterDiedIsVoidAndADroppedOneIsGone() throws {
        let ghost = WorkerIdentity(pid: try deadPid(), codeVersion: "test")
        XCTAssertEqual(try store.reserveSlurmTasks(["a"], seen: [:], liveTasks: [], submission: "/g", worker: ghost), ["a"])
        let seen = try store.slurmTasks(ids: ["a", "b"])
        XCTAssertEqual(try store.reserveSlurmTasks(["a", "b"], seen: seen, liveTasks: [], submission: "/m", worker: me), ["a", "b"])
        try store.dropSlurmReservations(["a", "b"], worker: me)
        XCTAssertEqual(try store.slurmTasks(ids: ["a", "b"]), [:])
        XCTAssertEqual(try store.records(ids: ["a"])["a"]?.attempts, 0, "sbatch refused: no attempt")
    }
}
