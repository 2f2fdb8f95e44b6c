import Foundation
import Results

/// A sweep on a Slurm cluster: submits the runs that need running as one job array, follows
/// the queue, and folds the tasks' result shards into the results database as they arrive.
///
/// Files live under `root` (by default `slurm/` beside the database): `shards/` (one
/// `<run id>.shard.sqlite` per finished run; merged ones move to `shards/merged/`),
/// `checkpoints/<run id>/` (resumable pre-training state of runs in flight) and
/// `<sweep>/<time>-<pid>/` (each submission's `job.sbatch`, `tasks.json` and `logs/`).
/// Only this process writes the database; tasks write only their own files.
public final class SlurmSweep {
    public let spec: SweepSpec
    public let store: ResultsStore
    public let root: String
    public let client: SlurmClient
    public let identity: WorkerIdentity

    public var shardsDir: String { "\(root)/shards" }
    public var checkpointsDir: String { "\(root)/checkpoints" }
    /// Where a task keeps the run's resumable pre-training state (`SlurmTaskRunner.statePath`).
    public func statePath(_ id: String) -> String { SlurmTaskRunner.statePath(checkpoints: checkpointsDir, id: id) }

    /// `slurm/` beside the database: `results/slurm` for `results/mimlab.sqlite`.
    public static func defaultRoot(dbPath: String) -> String {
        let dir = (dbPath as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/slurm"
    }

    public init(spec: SweepSpec, store: ResultsStore, root: String, client: SlurmClient = SlurmClient(), identity: WorkerIdentity) {
        self.spec = spec; self.store = store; self.client = client; self.identity = identity
        self.root = SlurmSweep.absolute(root)
    }

    static func absolute(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    // MARK: merging

    /// Ingests the shards that have arrived (nothing to do when there is no shard directory).
    public func merge() throws -> MergeReport {
        guard FileManager.default.fileExists(atPath: shardsDir) else { return MergeReport() }
        return try store.merge(shardsIn: shardsDir)
    }

    // MARK: submitting

    public struct Submitted: Sendable {
        public var jobID: String
        public var submission: SlurmSubmission
        public var runIDs: [String]
    }

    /// Everything a submission needs besides the runs.
    public struct SubmitOptions: Sendable {
        public var resources: SlurmSubmission.Resources
        public var retryFailed: Bool
        /// The mimlab binary the tasks run (this one, by default).
        public var executable: String
        public var cacheDir: String
        public var checkpointSeconds: Double
        public var codeVersion: String
        /// The command line that made the submission, for the script's header.
        public var command: String

        public init(resources: SlurmSubmission.Resources, retryFailed: Bool, executable: String, cacheDir: String,
                    checkpointSeconds: Double, codeVersion: String, command: String) {
            self.resources = resources; self.retryFailed = retryFailed; self.executable = executable
            self.cacheDir = SlurmSweep.absolute(cacheDir); self.checkpointSeconds = checkpointSeconds
            self.codeVersion = codeVersion; self.command = command
        }
    }

    /// Submits one job array for the sweep's runs that need running (not done, not failed
    /// unless retried, not claimed by a live local worker) and are not already queued or
    /// running on the cluster (by this sweep or by another that shares them). Returns nil
    /// when there is nothing to submit.
    /// With `only`, just those of them.
    public func submitMissing(_ o: SubmitOptions, only: Set<String>? = nil) throws -> Submitted? {
        let plan = try SweepPlan.make(spec, store: store, retryFailed: o.retryFailed)
        let candidates = plan.toRun.map(\.run).filter { only?.contains($0.id) ?? true }
        guard !candidates.isEmpty else { return nil }
        let seen = try store.slurmTasks(ids: candidates.map(\.id))
        let live = Set(try client.queue(jobs: seen.values.compactMap(\.jobID)).keys)
        let submission = try SlurmSubmission.create(root: root, sweep: spec.name)
        let reserved = try store.reserveSlurmTasks(candidates.map(\.id), seen: seen, liveTasks: live,
                                                   submission: submission.directory, worker: identity)
        guard !reserved.isEmpty else {
            try? FileManager.default.removeItem(atPath: submission.directory)
            return nil
        }
        do {
            let byID = Dictionary(candidates.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let records = try store.records(ids: reserved)
            let tasks = reserved.map { id in
                SlurmSubmission.Task(run: byID[id]!, sweeps: [spec.name],
                                     attempt: (records[id]?.attempts ?? 0) + 1)
            }
            let list = SlurmSubmission.TaskList(sweep: spec.name, shards: shardsDir, checkpoints: checkpointsDir,
                                                cache: o.cacheDir, checkpointSeconds: o.checkpointSeconds, tasks: tasks)
            try FileManager.default.createDirectory(atPath: shardsDir, withIntermediateDirectories: true)
            try submission.write(tasks: list, resources: o.resources, executable: o.executable,
                                 codeVersion: o.codeVersion, command: o.command)
            let job: String
            do { job = try client.submit(script: submission.scriptPath) } catch {
                throw SweepError("\(error) (nothing was submitted; the script is kept at \(submission.scriptPath))")
            }
            try store.confirmSlurmTasks(Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0.attempt) }), jobID: job, worker: identity)
            return Submitted(jobID: job, submission: submission, runIDs: reserved)
        } catch {
            try? store.dropSlurmReservations(reserved, worker: identity)
            throw error
        }
    }

    // MARK: following

    /// Where the sweep's runs stand: the database's view plus the queue's.
    public struct Progress: Sendable {
        public var total = 0
        public var done = 0
        public var failed = 0
        /// Tasks of the sweep's runs waiting in the queue, and running.
        public var queued = 0
        public var running = 0
        /// Queue entries by task id (`<job>_<index>`), for the sweep's runs.
        public var tasks: [String: SlurmClient.QueuedTask] = [:]
        /// Runs reserved by a submission that has not reached sbatch yet.
        public var reserving = 0
        /// Job ids with a task of the sweep still in the queue.
        public var jobs: [String] = []

        /// Nothing of the sweep is queued, running or being submitted.
        public var settled: Bool { queued == 0 && running == 0 && reserving == 0 }
    }

    public func progress() throws -> Progress {
        let ids = spec.runs.map(\.id)
        let records = try store.records(ids: ids)
        let slurm = try store.slurmTasks(ids: ids)
        let queue = try client.queue(jobs: Array(Set(slurm.values.compactMap(\.jobID))))
        var p = Progress(total: Set(ids).count)
        let now = Date().timeIntervalSince1970
        var jobs = Set<String>()
        for id in Set(ids) {
            switch records[id]?.status {
            case .done?: p.done += 1; continue
            case .failed?: p.failed += 1
            default: break
            }
            guard let t = slurm[id] else { continue }
            if t.isLiveReservation(now: now, thisHost: identity.host) { p.reserving += 1; continue }
            guard let taskID = t.taskID, let q = queue[taskID] else { continue }
            p.tasks[taskID] = q
            jobs.insert(t.jobID!)
            if q.state == "PENDING" || q.state == "REQUEUED" || q.state == "REQUEUE_HOLD" || q.state == "SUSPENDED" {
                p.queued += 1
            } else {
                p.running += 1
            }
        }
        p.jobs = jobs.sorted()
        return p
    }

    /// Merges and reports progress every `pollInterval` until none of the sweep's runs is
    /// queued or running on the cluster; then merges what came last.
    ///
    /// Runs left without a result must look settled twice, `settleDelay` apart: while the controller requeues
    /// a task (pre-emption) squeue can briefly not list it, and a task that has just ended
    /// may still be writing its shard on a slow shared filesystem.
    public func follow(pollInterval: TimeInterval, settleDelay: TimeInterval = 3,
                       onProgress: (Progress, MergeReport) -> Void) throws {
        var settledSince: Date?
        while true {
            let report = try merge()
            let p = try progress()
            onProgress(p, report)
            if p.settled && p.done + p.failed == p.total { break }
            if p.settled {
                if let since = settledSince, Date().timeIntervalSince(since) >= settleDelay { break }
                if settledSince == nil { settledSince = Date() }
            } else {
                settledSince = nil
            }
            Thread.sleep(forTimeInterval: settledSince == nil ? pollInterval : min(pollInterval, settleDelay))
        }
        onProgress(try progress(), try merge())
    }

    /// A run of the sweep with no result after its last task left the queue, and what its
    /// log says about why (the scheduler's "CANCELLED ... DUE TO TIME LIMIT", an error).
    public struct Unfinished: Sendable {
        public var run: PlannedRun
        public var task: SlurmTaskRecord?
        public var log: String?
        public var reason: String
        /// Its last task saved pre-training state before it ended: submitted again, the run
        /// gets further (a time limit shorter than the run, a pre-emption without requeue).
        public var savedProgress = false

        /// The scheduler ended the task (a time limit, pre-emption, a node failure: Slurm's
        /// "... DUE TO ...") after it saved progress: submitting it again gets the run further.
        /// A task a person cancelled (plain "CANCELLED") is not.
        public var resubmittable: Bool { savedProgress && reason.contains(" DUE TO ") }
    }

    public func unfinished() throws -> [Unfinished] {
        let ids = spec.runs.map(\.id)
        let records = try store.records(ids: ids)
        let slurm = try store.slurmTasks(ids: ids)
        var seen = Set<String>()
        return spec.runs.compactMap { run in
            guard seen.insert(run.id).inserted else { return nil }
            let status = records[run.id]?.status
            guard status != .done && status != .failed else { return nil }
            guard let t = slurm[run.id], let job = t.jobID else {
                return Unfinished(run: run, task: nil, log: nil, reason: "never submitted")
            }
            let log = SlurmSubmission(directory: t.submission).logPath(jobID: job, index: t.arrayIndex)
            let state = try? FileManager.default.attributesOfItem(atPath: statePath(run.id))[.modificationDate] as? Date
            return Unfinished(run: run, task: t, log: log, reason: SlurmSweep.why(log: log),
                              savedProgress: (state?.timeIntervalSince1970 ?? 0) > t.submittedAt)
        }
    }

    /// The most telling line of a task's log: Slurm's own verdict when there is one, else
    /// mimlab's last error, else the last line.
    static func why(log: String) -> String {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return "no log at \(log) (the task never started?)" }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        // slurmstepd-node: error: *** JOB 12 ON node CANCELLED AT 2026-... DUE TO TIME LIMIT ***
        if let verdict = lines.last(where: { $0.contains("*** JOB") || $0.contains("*** STEP") }),
           let open = verdict.range(of: "*** "), let close = verdict.range(of: " ***", range: open.upperBound..<verdict.endIndex) {
            return String(verdict[open.upperBound..<close.lowerBound])
        }
        if let err = lines.last(where: { $0.contains("error:") || $0.contains("stopped") }) { return err }
        return lines.last ?? "empty log"
    }
}
