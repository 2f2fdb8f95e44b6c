import XCTest
import Results
import Sweep

/// `mimlab sweep run --backend slurm` against a real single-node Slurm cluster: the same
/// sweep ends with the same database as the local backend, a second run submits nothing,
/// and a detached submission is followed later.
final class SlurmSweepTests: LocalSlurmTestCase {
    /// Done-when 1 of the Slurm issue: 8 runs through the cluster, and the same 8 with the
    /// local backend: the same run ids, every one done once, and the same results and
    /// metric histories (wall times aside), bit for bit.
    func testSlurmSweepEndsWithTheSameDatabaseAsTheLocalBackend() throws {
        let spec = try CLI.writeSpec(dir, "grids: [{mask.ratio: [0.4, 0.6]}]\nseeds: 4\n")
        let localDB = dir.appendingPathComponent("local.sqlite").path
        let slurmDB = dir.appendingPathComponent("slurm.sqlite").path

        let local = try CLI.run(["sweep", "run", spec, "--db", localDB, "--threads", "1"], in: dir, name: "local")
        XCTAssertEqual(local.status, 0, local.stderr)
        let viaSlurm = try CLI.run(["sweep", "run", spec, "--db", slurmDB, "--backend", "slurm", "--threads", "1", "--poll", "0.5"],
                                   in: dir, name: "slurm", env: slurm.env)
        XCTAssertEqual(viaSlurm.status, 0, viaSlurm.stderr)
        XCTAssert(viaSlurm.stderr.contains("submitted job"), viaSlurm.stderr)
        XCTAssert(viaSlurm.stdout.contains("8/8 done, 0 failed"), viaSlurm.stdout)

        let ids = try SweepSpec.load(path: spec).runs.map(\.id)
        XCTAssertEqual(Set(ids).count, 8)
        let a = try Outcome.load(localDB, ids: ids), b = try Outcome.load(slurmDB, ids: ids)
        XCTAssertEqual(a.keys.sorted(), ids.sorted())
        XCTAssertEqual(b.keys.sorted(), ids.sorted())
        for id in ids {
            XCTAssertEqual(b[id]?.status, .done, "\(id): \(b[id]?.error ?? "")")
            XCTAssertEqual(b[id]?.attempts, 1)
            XCTAssertFalse(a[id]?.results.isEmpty ?? true)
            XCTAssertEqual(a[id]?.results, b[id]?.results, "results of \(id)")
            XCTAssertEqual(a[id]?.metrics, b[id]?.metrics, "metric history of \(id)")
        }
        XCTAssertEqual(try ResultsStore(path: slurmDB).integrityCheck(), "ok")

        // The script it submitted is beside the results, readable and complete.
        let root = dir.appendingPathComponent("slurm")
        let scripts = try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { $0.hasSuffix("job.sbatch") }
        XCTAssertEqual(scripts.count, 1, "\(scripts)")
        let script = try String(contentsOf: root.appendingPathComponent(scripts[0]), encoding: .utf8)
        XCTAssert(script.contains("#SBATCH --array=0-7\n"), script)
        XCTAssert(script.contains("sweep task"), script)

        // Run again: it merges nothing new, submits nothing, changes nothing.
        let again = try CLI.run(["sweep", "run", spec, "--db", slurmDB, "--backend", "slurm", "--poll", "0.5"],
                                in: dir, name: "again", env: slurm.env)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssert(again.stderr.contains("nothing to submit"), again.stderr)
        XCTAssertEqual(try Outcome.load(slurmDB, ids: ids), b)
    }

    /// --detach returns once the job is queued; the next `sweep run` follows that job (it
    /// submits nothing) and merges its results.
    func testDetachedSubmissionIsFollowedByTheNextRun() throws {
        let spec = try CLI.writeSpec(dir, "grids: [{mask.ratio: [0.4, 0.5, 0.6]}]\n")
        let db = dir.appendingPathComponent("r.sqlite").path
        let first = try CLI.run(["sweep", "run", spec, "--db", db, "--backend", "slurm", "--detach"], in: dir, name: "first", env: slurm.env)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssert(first.stderr.contains("detached"), first.stderr)
        let ids = try SweepSpec.load(path: spec).runs.map(\.id)
        let tasks = try ResultsStore(path: db).slurmTasks(ids: ids)
        XCTAssertEqual(Set(tasks.values.compactMap(\.jobID)).count, 1, "\(tasks)")

        let second = try CLI.run(["sweep", "run", spec, "--db", db, "--backend", "slurm", "--poll", "0.5"], in: dir, name: "second", env: slurm.env)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssert(second.stderr.contains("nothing to submit"), second.stderr)
        XCTAssertEqual(try ResultsStore(path: db).slurmTasks(ids: ids), tasks, "resubmitted")
        for (id, o) in try Outcome.load(db, ids: ids) { XCTAssertEqual(o.status, .done, id) }
    }

    /// A bad option is refused before anything is submitted, naming the option and the valid forms.
    func testBadSlurmOptionsAreRefusedBeforeSubmitting() throws {
        let spec = try CLI.writeSpec(dir, "grids: [{mask.ratio: [0.4]}]\n")
        let db = dir.appendingPathComponent("r.sqlite").path
        for (args, message) in [(["--time", "soon"], "--time 'soon': valid forms are"),
                                (["--sbatch-arg", "--array=1-3"], "mimlab sets --array itself"),
                                (["--sbatch-arg", "mem=4G"], "must be one sbatch option"),
                                (["--array-parallelism", "0"], "--array-parallelism 0: must be at least 1")] {
            let out = try CLI.run(["sweep", "run", spec, "--db", db, "--backend", "slurm"] + args, in: dir, name: "bad", env: slurm.env)
            XCTAssertEqual(out.status, 2, "\(args): \(out.stderr)")
            XCTAssert(out.stderr.contains(message), "\(args): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("submitted job"), out.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "checked before the database is created")
        let local = try CLI.run(["sweep", "run", spec, "--db", db, "--time", "10"], in: dir, name: "local-time")
        XCTAssertNotEqual(local.status, 0)
        XCTAssert(local.stderr.contains("only with --backend slurm"), local.stderr)
        XCTAssertTrue(try slurm.queue().isEmpty)
    }
}

/// What a database holds of a run, wall times aside: what two backends must agree on.
struct Outcome: Equatable {
    var status: RunStatus
    var attempts: Int
    var error: String?
    var results: [String: Double]
    var metrics: [MetricPoint]

    static func load(_ db: String, ids: [String]) throws -> [String: Outcome] {
        let store = try ResultsStore(path: db)
        let records = try store.records(ids: ids)
        let results = try store.results(ids: ids)
        var out: [String: Outcome] = [:]
        for (id, r) in records {
            out[id] = Outcome(status: r.status, attempts: r.attempts, error: r.error,
                              results: (results[id] ?? [:]).filter { !$0.key.hasSuffix("seconds") },
                              metrics: try store.metrics(id: id))
        }
        return out
    }
}
