import XCTest
import Results
import Sweep

/// What clusters and machines do to sweeps, done to real ones on both backends: kill -9 of
/// a runner or a worker at random points, a Slurm task killed, cancelled, timed out or
/// pre-empted, two overlapping sweeps at once, corrupt and truncated shards, a full disk, a
/// read-only database. After each fault the next `sweep run` must finish the sweep with no
/// run lost, none made twice and the database sound. The suite ends by printing the tally.
final class FaultInjectionTests: LocalSlurmTestCase {
    nonisolated(unsafe) static var tally = (faults: 0, lost: 0, duplicates: 0, audits: 0)
    /// Uninterrupted local runs by run id, made once for the tests that compare a resumed run with one.
    nonisolated(unsafe) static var references: [String: Outcome] = [:]
    /// Seeds the "random points" of the kill tests; set MIMLAB_FAULT_SEED to replay a failure.
    static let seed = UInt64(ProcessInfo.processInfo.environment["MIMLAB_FAULT_SEED"] ?? "") ?? 20261123

    var rng = SplitMix(seed: FaultInjectionTests.seed)

    override class func tearDown() {
        let t = tally
        print("fault-injection suite: \(t.faults) faults injected, \(t.lost) runs lost, \(t.duplicates) duplicates "
              + "(\(t.audits) recoveries audited; seed \(seed))")
        super.tearDown()
    }

    var db: String { dir.appendingPathComponent("results.sqlite").path }
    var slurmRoot: URL { dir.appendingPathComponent("slurm") }

    func injected(_ n: Int = 1) { FaultInjectionTests.tally.faults += n }

    // MARK: running sweeps

    func local(_ spec: String, _ extra: [String] = [], name: String) throws -> (Process, () -> CLI.Output) {
        try CLI.start(["sweep", "run", spec, "--db", db] + extra, in: dir, name: name)
    }

    func viaSlurm(_ spec: String, _ extra: [String] = [], name: String) throws -> (Process, () -> CLI.Output) {
        try CLI.start(["sweep", "run", spec, "--db", db, "--backend", "slurm", "--threads", "1", "--poll", "0.3",
                       "--slurm-dir", slurmRoot.path] + extra, in: dir, name: name, env: slurm.env)
    }

    func records(_ spec: String) throws -> [String: RunRecord] {
        try ResultsStore(path: db).records(ids: SweepSpec.load(path: spec).runs.map(\.id))
    }

    /// The recovery: the next `sweep run` (same backend) finishes what the fault left.
    @discardableResult
    func recover(_ spec: String, slurm useSlurm: Bool, name: String = "recover") throws -> CLI.Output {
        let out = try (useSlurm ? viaSlurm(spec, name: name) : local(spec, name: name)).1()
        XCTAssertEqual(out.status, 0, "\(name): \(out.stderr)")
        return out
    }

    // MARK: the audit

    /// No run of the specs lost (each done), none made twice (each finished by exactly one
    /// execution, counted from every runner's and every task's output), one row per run,
    /// `PRAGMA integrity_check` ok. Adds to the suite's tally.
    func audit(_ specs: [String], db: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        var ids = Set<String>()
        for s in specs { ids.formUnion(try SweepSpec.load(path: s).runs.map(\.id)) }
        let store = try ResultsStore(path: db ?? self.db)
        XCTAssertEqual(try store.integrityCheck(), "ok", file: file, line: line)
        let recs = try store.records(ids: Array(ids))
        let lost = ids.filter { recs[$0]?.status != .done }
        XCTAssertEqual(try store.rowCounts()["runs"], ids.count, "runs rows", file: file, line: line)
        let results = try store.results(ids: Array(ids))
        for id in ids where recs[id]?.status == .done {
            XCTAssertNotNil(results[id]?["finetune.top1"], "\(id) done without results", file: file, line: line)
        }
        // Every "done <id>" a runner, pool worker or Slurm task printed is one execution that finished the run.
        var text = ""
        let files = (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String]) ?? []
        for f in files where f.hasSuffix(".stderr") || f.hasSuffix(".out") {
            text += (try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)) ?? ""
        }
        var duplicates = 0
        for id in ids {
            let finished = text.components(separatedBy: "done \(id)").count - 1
            if finished > 1 { duplicates += finished - 1 }
        }
        XCTAssertEqual(lost.sorted(), [], "runs lost", file: file, line: line)
        XCTAssertEqual(duplicates, 0, "runs made twice", file: file, line: line)
        FaultInjectionTests.tally.lost += lost.count
        FaultInjectionTests.tally.duplicates += duplicates
        FaultInjectionTests.tally.audits += 1
    }

    // MARK: processes

    /// Pids of the Slurm tasks (`mimlab sweep task`) of this test, by `<job>_<index>`.
    func taskProcesses() -> [String: Int32] {
        var out: [String: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let args = cmd.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard args.count >= 3, args[1] == "sweep", args[2] == "task", args.contains(where: { $0.hasPrefix(dir.path) }) else { continue }
            var vars: [String: String] = [:]
            for kv in env.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }) {
                if let eq = kv.firstIndex(of: "=") { vars[String(kv[..<eq])] = String(kv[kv.index(after: eq)...]) }
            }
            if let job = vars["SLURM_ARRAY_JOB_ID"], let task = vars["SLURM_ARRAY_TASK_ID"] { out["\(job)_\(task)"] = pid }
        }
        return out
    }

    func sleepRandomly(_ range: ClosedRange<Double>) -> Double {
        let t = range.lowerBound + Double(rng.next() % 10_000) / 10_000 * (range.upperBound - range.lowerBound)
        Thread.sleep(forTimeInterval: t)
        return t
    }

    /// A tmpfs of `kilobytes` mounted at `path` (created), unmounted by the caller via the returned closure.
    func tmpfs(at path: URL, kilobytes: Int) throws -> () -> Void {
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        let out = try LocalSlurm.shell(["mount", "-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path.path])
        guard out.status == 0 else { throw TestError("mount tmpfs at \(path.path): \(out.stderr)") }
        return { _ = try? LocalSlurm.shell(["umount", "-l", path.path]) }
    }

    // MARK: local backend

    /// kill -9 of the local runner at random moments, three times over, then a clean run.
    func testKillNineOfTheLocalRunnerAtRandomPoints() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 3}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6, 0.7]}]\n")
        for k in 0..<3 {
            let (p, _) = try local(spec, name: "killed-\(k)")
            _ = sleepRandomly(0.5...3.0)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            injected()
        }
        try recover(spec, slurm: false)
        try audit([spec])
    }

    /// kill -9 of one worker of a `--workers 2` pool mid-run: the pool finishes without it.
    func testKillNineOfAPoolWorker() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 4}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6]}]\n")
        let (p, out) = try local(spec, ["--workers", "2"], name: "pool")
        var victim: Int32 = 0
        try CLI.wait("a worker running a run") {
            let running = try records(spec).values.first { $0.status == .running && $0.pid != Int(p.processIdentifier) }
            victim = Int32(running?.pid ?? 0)
            return victim > 0
        }
        kill(victim, SIGKILL)
        injected()
        let pool = out()
        XCTAssert(pool.stderr.contains("exited with status"), pool.stderr)
        try recover(spec, slurm: false)
        try audit([spec])
    }

    /// Two sweeps whose specs share two of their three runs, started at once on one database.
    func overlappingSweepsAtOnce(slurm useSlurm: Bool) throws -> (String, String) {
        let a = try CLI.writeSpec(dir, name: "a", "set: {pretrain.epochs: 3}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5]}]\n")
        let b = try CLI.writeSpec(dir, name: "b", "set: {pretrain.epochs: 3}\ngrids: [{mask.ratio: [0.4, 0.5, 0.6]}]\n")
        let start = useSlurm ? viaSlurm : local
        let (_, outA) = try start(a, [], "sweep-a")
        let (_, outB) = try start(b, [], "sweep-b")
        injected()
        for o in [outA(), outB()] { XCTAssertEqual(o.status, 0, o.stderr) }
        return (a, b)
    }

    func testOverlappingLocalSweepsAtOnce() throws {
        let (a, b) = try overlappingSweepsAtOnce(slurm: false)
        try audit([a, b])
    }

    /// The disk under the database fills up mid-sweep: the runner stops with a clear error,
    /// the database stays sound, and the sweep finishes once there is room again.
    func testFullDiskUnderTheDatabase() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 6}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6]}]\n")
        let disk = dir.appendingPathComponent("disk")
        let unmount = try tmpfs(at: disk, kilobytes: 4096)
        defer { unmount() }
        let dbOnDisk = disk.appendingPathComponent("results.sqlite").path
        let (p, out) = try CLI.start(["sweep", "run", spec, "--db", dbOnDisk], in: dir, name: "full")
        try CLI.wait("the first run done") {
            (try? ResultsStore(path: dbOnDisk).countsByStatus()[.done]).map { $0 >= 1 } ?? false
        }
        // Fill what is left, so the next result cannot be written.
        let filler = disk.appendingPathComponent("filler")
        _ = try LocalSlurm.shell(["dd", "if=/dev/zero", "of=\(filler.path)", "bs=4k", "status=none"])
        injected()
        let full = out()
        _ = p
        XCTAssertEqual(full.status, 2, full.stderr)
        XCTAssert(full.stderr.contains("full"), full.stderr)
        XCTAssertFalse(full.stderr.contains("Fatal error"), full.stderr)
        try FileManager.default.removeItem(at: filler)
        let again = try CLI.run(["sweep", "run", spec, "--db", dbOnDisk], in: dir, name: "recover")
        XCTAssertEqual(again.status, 0, again.stderr)
        try audit([spec], db: dbOnDisk)
    }

    /// A read-only database (a read-only mount: root ignores file modes) is refused with a
    /// clear error and left as it was; once writable, the sweep finishes.
    func testReadOnlyDatabase() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 2}\ngrids: [{mask.ratio: [0.3, 0.4]}]\n")
        let disk = dir.appendingPathComponent("ro")
        let unmount = try tmpfs(at: disk, kilobytes: 8192)
        defer { unmount() }
        let dbOnDisk = disk.appendingPathComponent("results.sqlite").path
        let first = try CLI.run(["sweep", "run", spec, "--db", dbOnDisk], in: dir, name: "first")
        XCTAssertEqual(first.status, 0, first.stderr)
        // A new spec on the same database: its runs are missing.
        let more = try CLI.writeSpec(dir, name: "more", "set: {pretrain.epochs: 2}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6]}]\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: dbOnDisk))
        // An empty log as a writer that ended without closing leaves it: readers go on
        // without the -shm they cannot create there.
        XCTAssert(FileManager.default.createFile(atPath: dbOnDisk + "-wal", contents: Data()))
        XCTAssertEqual(try LocalSlurm.shell(["mount", "-o", "remount,ro", disk.path]).status, 0)
        injected()
        for backend in [[], ["--backend", "slurm", "--slurm-dir", slurmRoot.path]] {
            let ro = try CLI.run(["sweep", "run", more, "--db", dbOnDisk] + backend, in: dir, name: "readonly", env: slurm.env)
            XCTAssertEqual(ro.status, 2, ro.stderr)
            XCTAssert(ro.stderr.contains(dbOnDisk) && ro.stderr.contains("read-only file system"), ro.stderr)
            XCTAssertFalse(ro.stderr.contains("Fatal error"), ro.stderr)
        }
        // Reading needs no write: the read commands work on the read-only file.
        for cmd in [["sql", "SELECT count(*) FROM runs"], ["query"], ["sweep", "status", spec], ["sweep", "plan", more]] {
            let o = try CLI.run(cmd + ["--db", dbOnDisk], in: dir, name: "readonly-read")
            XCTAssertEqual(o.status, 0, "\(cmd): \(o.stderr)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dbOnDisk)), before)
        XCTAssertEqual(try LocalSlurm.shell(["mount", "-o", "remount,rw", disk.path]).status, 0)
        let again = try CLI.run(["sweep", "run", more, "--db", dbOnDisk], in: dir, name: "recover")
        XCTAssertEqual(again.status, 0, again.stderr)
        try audit([spec, more], db: dbOnDisk)
    }

    // MARK: Slurm backend

    /// kill -9 of `sweep run --backend slurm` while its job runs: the tasks go on; the next
    /// run submits nothing and merges their results.
    func testKillNineOfTheSlurmRunner() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 6}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6]}]\n")
        let (p, _) = try viaSlurm(spec, name: "killed")
        try CLI.wait("the job submitted") {
            let ids = try SweepSpec.load(path: spec).runs.map(\.id)
            return ((try? ResultsStore(path: db).slurmTasks(ids: ids)) ?? [:]).values.contains { $0.jobID != nil }
        }
        _ = sleepRandomly(0.2...2.0)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        injected()
        let out = try recover(spec, slurm: true)
        XCTAssert(out.stderr.contains("nothing to submit"), out.stderr)
        try audit([spec])
    }

    /// One task's mimlab killed with -9 (a node lost, the OOM killer), and another task
    /// cancelled with scancel: both runs are reported without a result, and the next
    /// `sweep run` submits just those two.
    func testKilledAndCancelledTasksAreSubmittedAgain() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 12}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5, 0.6]}]\n")
        let (_, out) = try viaSlurm(spec, name: "faulty")
        var tasks: [String: Int32] = [:]
        try CLI.wait("two tasks running", timeout: 60) {
            tasks = taskProcesses()
            return tasks.count >= 2
        }
        let victims = tasks.keys.sorted().prefix(2)
        kill(tasks[victims.first!]!, SIGKILL)
        try slurm.run("scancel", [victims.last!])
        injected(2)
        let first = out()
        XCTAssertEqual(first.status, 1, first.stderr)
        XCTAssert(first.stderr.contains("2 run(s) ended without a result"), first.stderr)
        XCTAssert(first.stderr.contains("CANCELLED"), first.stderr)
        let again = try recover(spec, slurm: true)
        XCTAssert(again.stderr.contains("submitted job") && again.stderr.contains(": 2 task(s)"), again.stderr)
        try audit([spec])
    }

    /// Two Slurm sweeps whose specs share runs, started at once: no shared run is submitted twice.
    func testOverlappingSlurmSweepsAtOnce() throws {
        let (a, b) = try overlappingSweepsAtOnce(slurm: true)
        let submitted = try String(contentsOf: dir.appendingPathComponent("sweep-a.stderr"), encoding: .utf8)
            + String(contentsOf: dir.appendingPathComponent("sweep-b.stderr"), encoding: .utf8)
        let counts = submitted.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("submitted job"), let r = line.range(of: ": ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        XCTAssertEqual(counts.reduce(0, +), 4, "tasks submitted in all: \(submitted)")
        try audit([a, b])
    }

    /// A corrupt shard and a truncated one wait in the shard directory: merge refuses both
    /// (the database untouched by them), their runs are made again and replace them.
    func testCorruptAndTruncatedShards() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 2}\ngrids: [{mask.ratio: [0.3, 0.4, 0.5]}]\n")
        let ids = try SweepSpec.load(path: spec).runs.map(\.id)
        // A real shard of the third run, from a sweep elsewhere, cut short.
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let made = try CLI.run(["sweep", "run", spec, "--db", other.appendingPathComponent("o.sqlite").path, "--backend", "slurm",
                                "--threads", "1", "--poll", "0.3", "--slurm-dir", other.appendingPathComponent("slurm").path],
                               in: other, name: "other", env: slurm.env)
        XCTAssertEqual(made.status, 0, made.stderr)
        let real = try Data(contentsOf: other.appendingPathComponent("slurm/shards/merged/\(ids[2]).shard.sqlite"))
        let shards = slurmRoot.appendingPathComponent("shards")
        try FileManager.default.createDirectory(at: shards, withIntermediateDirectories: true)
        try Data("this is not a database".utf8).write(to: shards.appendingPathComponent("\(ids[0]).shard.sqlite"))
        try real.prefix(real.count / 2).write(to: shards.appendingPathComponent("\(ids[2]).shard.sqlite"))
        try FileManager.default.removeItem(at: other)
        injected(2)
        let out = try recover(spec, slurm: true)
        XCTAssert(out.stderr.contains("not an SQLite database"), out.stderr)
        XCTAssert(out.stderr.contains("truncated"), out.stderr)
        XCTAssert(out.stderr.contains(": 3 task(s)"), out.stderr)
        try audit([spec])
    }

    /// The shard directory is on a disk that fills up: the tasks fail to write their shards
    /// and say so; once there is room, the next `sweep run` makes those runs again.
    func testFullDiskUnderTheShards() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 2}\ngrids: [{mask.ratio: [0.3, 0.4]}]\n")
        let shards = slurmRoot.appendingPathComponent("shards")
        let unmount = try tmpfs(at: shards, kilobytes: 1024)
        defer { unmount() }
        let filler = shards.appendingPathComponent("filler")
        _ = try LocalSlurm.shell(["dd", "if=/dev/zero", "of=\(filler.path)", "bs=4k", "status=none"])
        injected()
        let full = try viaSlurm(spec, name: "full").1()
        XCTAssertEqual(full.status, 1, full.stderr)
        XCTAssert(full.stderr.contains("2 run(s) ended without a result"), full.stderr)
        XCTAssert(full.stderr.contains("full"), full.stderr)
        XCTAssertEqual(try ResultsStore(path: db).integrityCheck(), "ok")
        try FileManager.default.removeItem(at: filler)
        try recover(spec, slurm: true)
        try audit([spec])
    }
}

extension FaultInjectionTests {
    /// The run of a one-run spec made with the local backend in a database of its own: what
    /// a run interrupted on the cluster and resumed must equal, bit for bit.
    func reference(_ spec: String) throws -> Outcome {
        let id = try SweepSpec.load(path: spec).runs[0].id
        if let known = FaultInjectionTests.references[id] { return known }
        // Its own directory: its "done" line must not count as a second execution in `audit`.
        let refDir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: refDir) }
        let refDB = refDir.appendingPathComponent("reference.sqlite").path
        let out = try CLI.run(["sweep", "run", spec, "--db", refDB, "--threads", "1"], in: refDir, name: "reference")
        XCTAssertEqual(out.status, 0, out.stderr)
        let ref = try XCTUnwrap(Outcome.load(refDB, ids: [id])[id])
        FaultInjectionTests.references[id] = ref
        return ref
    }

    /// The run's state file, once the task has saved one, and the task's queue id.
    func waitForCheckpoint(_ spec: String) throws -> (state: String, task: String) {
        let id = try SweepSpec.load(path: spec).runs[0].id
        let state = slurmRoot.appendingPathComponent("checkpoints/\(id)/pretrain-state.safetensors").path
        try CLI.wait("a pre-training checkpoint", timeout: 90) { FileManager.default.fileExists(atPath: state) }
        let task = try XCTUnwrap(ResultsStore(path: db).slurmTasks(ids: [id])[id]?.taskID)
        return (state, task)
    }

    /// The resumed run has exactly the configured pre-training steps, one loss point per
    /// 10 steps and no step twice, and otherwise equals the uninterrupted reference.
    func assertResumed(_ spec: String, equals ref: Outcome, attempts: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try SweepSpec.load(path: spec).runs[0]
        let o = try XCTUnwrap(Outcome.load(db, ids: [run.id])[run.id], file: file, line: line)
        let steps = run.config.pretrain.epochs * (run.config.data.poolSize / run.config.pretrain.batch)
        XCTAssertEqual(o.status, .done, o.error ?? "", file: file, line: line)
        XCTAssertEqual(o.attempts, attempts, file: file, line: line)
        XCTAssertEqual(o.results["pretrain.steps"], Double(steps), "pre-training steps", file: file, line: line)
        let resumedFrom = try XCTUnwrap(o.results["pretrain.resumed_from"], "the run did not resume", file: file, line: line)
        XCTAssert(resumedFrom > 0 && resumedFrom < Double(steps), "resumed from \(resumedFrom)", file: file, line: line)
        let lossSteps = o.metrics.filter { $0.phase == "pretrain" && $0.name == "step_loss" }.map(\.step)
        XCTAssertEqual(lossSteps, Array(stride(from: 10, through: steps, by: 10)), file: file, line: line)
        var same = o
        same.results["pretrain.resumed_from"] = nil
        same.attempts = ref.attempts
        XCTAssertEqual(same, ref, "a resumed run must equal the uninterrupted one", file: file, line: line)
    }

    /// Pre-emption: the scheduler requeues a running task (`scontrol requeue`, SIGTERM, then
    /// the task runs again). After at least one checkpoint, the requeued task resumes from
    /// it; the run's pre-training step count is the configured one, not more.
    func testPreemptedTaskResumesFromItsCheckpoint() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 20}\ngrids: [{mask.ratio: [0.6]}]\n")
        let ref = try reference(spec)
        let (_, out) = try viaSlurm(spec, ["--checkpoint-every", "0.5"], name: "preempted")
        let (_, task) = try waitForCheckpoint(spec)
        try slurm.run("scontrol", ["requeue", task])
        injected()
        // A requeued job waits (BeginTime, two minutes here) before it may start again; let
        // it go sooner. Not at once: slurmctld refuses to launch a job within the second its
        // previous credential was revoked ("Job credential revoked").
        try CLI.wait("the task requeued", timeout: 30) { (try? slurm.queue()[task]) == "PENDING" }
        Thread.sleep(forTimeInterval: 2)
        try slurm.run("scontrol", ["update", "JobId=\(task)", "StartTime=now"])
        let o = out()
        XCTAssertEqual(o.status, 0, o.stderr)
        let log = try String(contentsOf: dir, recursiveFilesEndingIn: ".out")
        XCTAssert(log.contains("DUE TO JOB REQUEUE"), log)
        XCTAssert(log.contains("resuming at step"), log)
        try assertResumed(spec, equals: ref, attempts: 2)
        try audit([spec])
    }

    /// A task reaches its time limit: Slurm sends SIGTERM, the task saves its state and
    /// leaves, and the same `sweep run` submits the run again (it saved progress); the new
    /// task resumes from the checkpoint. Slurm enforces limits every 30 s or so; the task is
    /// paused (SIGSTOP) meanwhile, so that it is still pre-training when the limit strikes
    /// without burning a core (Slurm sends SIGCONT before SIGTERM).
    func testTimeLimitedTaskResumesWhenSubmittedAgain() throws {
        let spec = try CLI.writeSpec(dir, "set: {pretrain.epochs: 20}\ngrids: [{mask.ratio: [0.6]}]\n")
        let ref = try reference(spec)
        let (_, out) = try viaSlurm(spec, ["--checkpoint-every", "0.5", "--time", "10"], name: "timed-out")
        let (_, task) = try waitForCheckpoint(spec)
        let pid = try XCTUnwrap(taskProcesses()[task])
        kill(pid, SIGSTOP)
        // Slurm keeps times in whole seconds and refuses an end time that is not after the
        // start ("Invalid time specified"): a task that saved its first checkpoint within
        // the second it started (a quiet, fast machine) is ended a second later.
        for attempt in 1...5 {
            do { try slurm.run("scontrol", ["update", "JobId=\(task)", "EndTime=now"]); break } catch {
                guard attempt < 5, "\(error)".contains("Invalid time specified") else { throw error }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        injected()
        let o = out()
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssert(o.stderr.contains("DUE TO TIME LIMIT"), o.stderr)
        XCTAssert(o.stderr.contains("submitting again 1 run(s)"), o.stderr)
        XCTAssertEqual(slurm.finalState(job: String(task.split(separator: "_")[0])), "TIMEOUT")
        try assertResumed(spec, equals: ref, attempts: 2)
        try audit([spec])
    }
}

extension String {
    /// Every file under `dir` whose name ends in `suffix`, concatenated.
    init(contentsOf dir: URL, recursiveFilesEndingIn suffix: String) throws {
        var text = ""
        for f in (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String]) ?? [] where f.hasSuffix(suffix) {
            text += (try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)) ?? ""
        }
        self = text
    }
}

/// A small seeded generator (SplitMix64) for the random moments faults strike at.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
