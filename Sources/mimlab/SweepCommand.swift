import ArgumentParser
import Foundation
import Results
import Sweep
import Tensor
import Train

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Plan, run and follow a sweep spec (a grid of runs) against the results database.",
        discussion: """
        A spec (experiments/*.yaml) names a base config, grids of axis values, seeds and how \
        its results make a paper table. Each run's id is the hash of its full config, so a run \
        that is done is never run again, whichever spec asks for it; an interrupted sweep \
        picks up where it stopped.

          mimlab sweep plan experiments/table1-masking.yaml
          mimlab sweep run experiments/table1-masking.yaml --workers 2
          mimlab sweep run experiments/table1-masking.yaml --backend slurm --time 30
          mimlab sweep status experiments/table1-masking.yaml
        """,
        subcommands: [SweepPlanCommand.self, SweepRunCommand.self, SweepStatusCommand.self, SweepWorkerCommand.self,
                      SweepTaskCommand.self])
}

/// Options every sweep subcommand shares.
struct SweepOptions: ParsableArguments {
    @Argument(help: "Sweep spec (YAML), e.g. experiments/quickstart.yaml.")
    var spec: String

    @Option(help: "Results database (SQLite).")
    var db: String = ResultsStore.defaultPath

    func load() throws -> SweepSpec { try SweepSpec.load(path: spec) }
}

/// "mask.patch=8 mask.ratio=0.6 seed=1": the values of the axes a sweep varies.
func describe(_ run: PlannedRun, axes: [String]) -> String {
    axes.map { "\($0)=\(run.axisText($0) ?? "?")" }.joined(separator: " ")
}

struct SweepPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "List a sweep's runs as new / pending / running / stale / done / failed, with an estimated time. Runs nothing.")

    @OptionGroup var options: SweepOptions

    @Flag(help: "Count failed runs as runs to make (as `sweep run --retry-failed` would).")
    var retryFailed = false

    func run() throws {
        let spec = try options.load()
        let plan = try SweepPlan.make(spec, dbPath: options.db, retryFailed: retryFailed)
        print("sweep \(spec.name): \(spec.runs.count) runs (\(spec.path))")
        print("| run | state | \(spec.axes.joined(separator: " | ")) | est. time |")
        print("|---|---|\(spec.axes.map { _ in "---|" }.joined())---:|")
        for e in plan.entries {
            let values = spec.axes.map { e.run.axisText($0) ?? "?" }
            print("| \(e.run.id) | \(e.state.rawValue) | \(values.joined(separator: " | ")) | \(ProgressBar.duration(e.estimatedSeconds)) |")
        }
        printSummary(plan)
    }
}

func printSummary(_ plan: SweepPlan) {
    let counts = SweepPlan.State.allCases.map { "\(plan.count($0)) \($0.rawValue)" }.joined(separator: ", ")
    print("\(counts)")
    print("to run: \(plan.toRun.count), estimated \(ProgressBar.duration(plan.estimatedSeconds)) on this machine")
}

struct SweepStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each run of a sweep with its state, attempts, host, results or error.")

    @OptionGroup var options: SweepOptions

    func run() throws {
        let spec = try options.load()
        guard options.db.isEmpty || FileManager.default.fileExists(atPath: options.db) else {
            throw CLIError("\(options.db): no results database yet; `mimlab sweep run \(options.spec)` creates it")
        }
        let store = try ResultsStore(path: options.db, readOnly: true)
        let plan = try SweepPlan.make(spec, store: store)
        let results = try store.results(ids: spec.runs.map(\.id))
        let slurm = try store.slurmTasks(ids: spec.runs.map(\.id))
        print("sweep \(spec.name): \(spec.runs.count) runs in \(options.db)")
        print("| run | state | \(spec.axes.joined(separator: " | ")) | attempts | finetune.top1 | linprobe.top1 | seconds | note |")
        print("|---|---|\(spec.axes.map { _ in "---|" }.joined())---:|---:|---:|---:|---|")
        for e in plan.entries {
            let r = results[e.run.id] ?? [:]
            let values = spec.axes.map { e.run.axisText($0) ?? "?" }
            let seconds = ["pretrain.seconds", "linprobe.seconds", "finetune.seconds"].compactMap { r[$0] }.reduce(0, +)
            var note = e.record?.error.map { String($0.prefix(80)) } ?? ""
            if e.state == .running || e.state == .stale, let rec = e.record {
                note = "\(rec.host ?? "?") pid \(rec.pid ?? 0)" + (rec.progress.map { ", \($0)" } ?? "")
            }
            if e.state == .pending || e.state == .new, let t = slurm[e.run.id], let task = t.taskID {
                note = "submitted to Slurm as \(task) at \(Self.clock(t.submittedAt))"
            }
            print("| \(e.run.id) | \(e.state.rawValue) | \(values.joined(separator: " | ")) | \(e.record?.attempts ?? 0) | "
                  + "\(r["finetune.top1"].map { String(format: "%.1f", $0) } ?? "") | \(r["linprobe.top1"].map { String(format: "%.1f", $0) } ?? "") | "
                  + "\(seconds > 0 ? String(format: "%.0f", seconds) : "") | \(note) |")
        }
        printSummary(plan)
    }
}

extension SweepStatusCommand {
    static func clock(_ t: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run every run of a sweep that is not done yet (a local pool of workers, or a Slurm job array).",
        discussion: """
        Runs that are done are skipped; runs left 'running' by a worker that died (Ctrl-C, \
        kill -9, a crash, a reboot) are detected and run again; failed runs (a diverged loss, \
        a missing dataset) are kept with their reason and re-run only with --retry-failed. \
        Any number of `sweep run` processes may share one database.

        With --workers N, N worker processes each run one run at a time with cores/N BLAS \
        threads. Ctrl-C gives in-flight runs back to the pool; the next `sweep run` starts \
        them again from the beginning. Workers whose runner is killed give their run back \
        and exit within a second.

        With --backend slurm, the runs that are missing go to the cluster as one job array \
        (the sbatch script is written under slurm/ beside the database, to read or submit \
        again). Each task makes one run and writes its result to a shard file; this command \
        follows the queue and merges shards into the database as they land. Runs already \
        queued or running on the cluster are never submitted twice; a task killed by its \
        time limit or pre-empted resumes pre-training from its last checkpoint. Ctrl-C (or \
        --detach) leaves the job running; `sweep run` again follows it.
        """)

    @OptionGroup var options: SweepOptions

    @Option(help: "Worker processes (1 to \(SweepRunCommand.maxWorkers)).")
    var workers: Int = 1

    @Option(help: "BLAS/compute threads per worker (default: cores / workers; 1 to \(threadBound)).")
    var threads: Int?

    @Flag(help: "Run failed runs again.")
    var retryFailed = false

    @Option(help: "Directory for generated datasets (default: $MIMLAB_CACHE or .cache/mimlab).")
    var cache: String?

    @Option(help: "Keep each run's checkpoint and results.json under DIR/<run id>.")
    var keepRuns: String?

    @OptionGroup(title: "Backend") var backendOptions: BackendOptions

    static let maxWorkers = 64

    func validate() throws {
        guard workers >= 1 && workers <= SweepRunCommand.maxWorkers else {
            throw ValidationError("--workers \(workers): must be 1 to \(SweepRunCommand.maxWorkers)")
        }
        if backendOptions.backend == .slurm {
            if workers != 1 { throw ValidationError("--workers: local only; with --backend slurm, --array-parallelism limits the tasks at once") }
            if keepRuns != nil { throw ValidationError("--keep-runs: local only") }
        }
        if let threads { try checkThreads(threads) }
    }

    func run() throws {
        let spec = try options.load()
        if backendOptions.backend == .slurm { _ = try slurmResources() }
        // Nothing to do is answered from a read-only look: the database stays byte-identical.
        let idle = try idlePlan(spec)
        if backendOptions.backend == .local, let idle {
            FileHandle.standardError.write(Data("sweep \(spec.name): \(spec.runs.count) runs, \(idle.count(.done)) done, 0 to run (the database is only read); db \(options.db)\n".utf8))
            return try finish(spec, plan: idle)
        }
        let store = try ResultsStore(path: options.db)
        defer { store.close() }
        try store.register(spec.runs.map { ($0.id, $0.canonicalJSON) }, sweep: spec.name)
        if backendOptions.backend == .slurm { return try runSlurm(spec, store: store) }
        let plan = try SweepPlan.make(spec, store: store, retryFailed: retryFailed)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let perWorker = threads ?? max(1, cores / workers)
        let todo = plan.toRun.count
        FileHandle.standardError.write(Data(("sweep \(spec.name): \(spec.runs.count) runs, \(plan.count(.done)) done, \(todo) to run"
            + " (estimated \(ProgressBar.duration(plan.estimatedSeconds))); \(workers) worker(s) x \(perWorker) thread(s); db \(options.db)\n").utf8))
        if todo == 0 && plan.count(.running) == 0 { return try finish(spec, plan: try SweepPlan.make(spec, store: store)) }

        if workers == 1 {
            try LocalPool.runWorker(spec, store: store, threads: perWorker, retryFailed: retryFailed, cache: cache, keepRuns: keepRuns,
                                    observer: LocalSweepObserver(spec: spec, plan: plan, verbose: true), say: say)
        } else {
            try runPool(spec, store: store, plan: plan, perWorker: perWorker)
        }
        try finish(spec, plan: try SweepPlan.make(spec, store: store))
    }

    /// The plan when this call would change nothing: every run of the spec is in the
    /// database and linked to this sweep only, and none is left to run (nil otherwise).
    /// Read before anything is written, so a malformed database is reported untouched.
    func idlePlan(_ spec: SweepSpec) throws -> SweepPlan? {
        guard options.db.isEmpty || FileManager.default.fileExists(atPath: options.db) else { return nil }
        // A 0-byte file is a database another runner has just created: new, for a writer.
        if let size = (try? FileManager.default.attributesOfItem(atPath: options.db))?[.size] as? Int, size == 0 { return nil }
        // So is one whose header is written but not its tables yet.
        let store = try ResultsStore(path: options.db, readOnly: true, allowNew: true)
        if try store.isNew() { return nil }
        let plan = try SweepPlan.make(spec, store: store, retryFailed: retryFailed)
        guard try store.isRegistered(spec.runs.map(\.id), sweep: spec.name) else { return nil }
        return plan.toRun.isEmpty && plan.count(.running) == 0 ? plan : nil
    }

    /// N child processes (`mimlab sweep worker`), each claiming runs from the database;
    /// this process only watches the database and draws the progress.
    func runPool(_ spec: SweepSpec, store: ResultsStore, plan: SweepPlan, perWorker: Int) throws {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let args = (0..<workers).map { k -> [String] in
            var a = ["sweep", "worker", options.spec, "--db", options.db, "--threads", String(perWorker),
                     "--parent-pid", String(getpid()), "--worker-index", String(k + 1)]
            if retryFailed { a.append("--retry-failed") }
            if let cache { a += ["--cache", cache] }
            if let keepRuns { a += ["--keep-runs", keepRuns] }
            return a
        }
        let toRun = Set(plan.toRun.map(\.run.id))
        let bar = ProgressBar("sweep \(spec.name)", total: toRun.count, unit: "run")
        let statuses = try LocalPool.runPool(spec, store: store, toRun: toRun, executable: exe, workerArguments: args) { p in
            let running = p.inFlight.isEmpty ? "\(p.running) running" : "\(p.running) running (\(p.runningText))"
            bar.update(p.finished, trailing: "\(running), \(p.failed) failed")
        }
        bar.finish()
        for (k, status) in statuses.enumerated() where status != 0 {
            say("mimlab: worker \(k + 1) exited with status \(status)")
        }
    }

    /// Prints the sweep's summary; exits 1 (after printing) when a run failed or, with
    /// `exitStatusIfUnfinished`, with that status.
    func finish(_ spec: SweepSpec, plan: SweepPlan, exitStatusIfUnfinished: Int32? = nil) throws {
        let failed = plan.entries.filter { $0.state == .failed }
        print("sweep \(spec.name): \(plan.count(.done))/\(spec.runs.count) done, \(failed.count) failed, "
              + "\(plan.count(.running)) running elsewhere, \(plan.count(.pending) + plan.count(.new) + plan.count(.stale)) not run")
        for e in failed {
            print("  failed \(e.run.id) \(describe(e.run, axes: spec.axes)): \(e.record?.error ?? "?")")
        }
        if !failed.isEmpty {
            say("mimlab: \(failed.count) run(s) failed; `--retry-failed` runs them again")
            throw ExitCode(1)
        }
        if let exitStatusIfUnfinished { throw ExitCode(exitStatusIfUnfinished) }
    }
}

/// `--threads`: at least 1, and no more than a machine could use; beyond, threads only
/// contend (and a million would exhaust the process table).
let threadBound = 1024

func checkThreads(_ threads: Int) throws {
    guard threads >= 1 && threads <= threadBound else {
        throw ValidationError("--threads \(threads): must be 1 to \(threadBound) (this machine has \(ProcessInfo.processInfo.activeProcessorCount) cores)")
    }
}

let say: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

/// One worker of `sweep run --workers N` (started by it; not meant to be typed).
struct SweepWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "One worker process of a sweep pool.", shouldDisplay: false)

    @OptionGroup var options: SweepOptions
    @Option var threads: Int = 1
    @Flag var retryFailed = false
    @Option var cache: String?
    @Option var keepRuns: String?
    @Option(help: "Give the run back and exit when this process is no longer the parent (the runner was killed).")
    var parentPid: Int32?
    @Option var workerIndex: Int = 1

    func validate() throws { try checkThreads(threads) }

    func run() throws {
        let spec = try options.load()
        let store = try ResultsStore(path: options.db)
        defer { store.close() }
        let prefix = "[worker \(workerIndex)] "
        try LocalPool.runWorker(spec, store: store, threads: threads, retryFailed: retryFailed, cache: cache, keepRuns: keepRuns,
                                observer: LocalSweepObserver(spec: spec, plan: nil, verbose: false, prefix: prefix),
                                parentPid: parentPid, say: { say(prefix + $0.trimmingCharacters(in: .newlines)) })
    }
}

/// Progress of a sweep in this process: a line per run and, when verbose, a bar per phase.
final class LocalSweepObserver: SweepObserver {
    let spec: SweepSpec
    let verbose: Bool
    let prefix: String
    private var started = 0
    private let total: Int
    private var remainingEstimate: Double
    private var estimateOfFinished = 0.0
    private var secondsOfFinished = 0.0
    private let estimates: [String: Double]

    init(spec: SweepSpec, plan: SweepPlan?, verbose: Bool, prefix: String = "") {
        self.spec = spec; self.verbose = verbose; self.prefix = prefix
        total = plan?.toRun.count ?? spec.runs.count
        estimates = Dictionary((plan?.entries ?? []).map { ($0.run.id, $0.estimatedSeconds) }, uniquingKeysWith: { a, _ in a })
        remainingEstimate = plan?.estimatedSeconds ?? 0
    }

    private func say(_ s: String) { FileHandle.standardError.write(Data((prefix + s + "\n").utf8)) }

    func runStarted(_ run: PlannedRun, attempt: Int, takenOver: Bool) -> TrainObserver {
        started += 1
        var line = "[\(started)/\(total)] run \(run.id) \(describe(run, axes: spec.axes))"
        if attempt > 1 { line += " (attempt \(attempt)\(takenOver ? ", its last worker died" : ""))" }
        if remainingEstimate > 0 {
            let scale = estimateOfFinished > 0 ? secondsOfFinished / estimateOfFinished : 1
            line += "  sweep ETA \(ProgressBar.duration(remainingEstimate * scale))"
        }
        say(line)
        return verbose ? ProgressObserver() : SilentObserver()
    }

    func runFinished(_ run: PlannedRun, outcome: RunOutcome, seconds: Double) {
        let est = estimates[run.id] ?? 0
        remainingEstimate = max(0, remainingEstimate - est)
        estimateOfFinished += est
        secondsOfFinished += seconds
        switch outcome {
        case .done(let r):
            let ft = r["finetune.top1"].map { String(format: "finetune %.1f%%", $0) } ?? ""
            let lp = r["linprobe.top1"].map { String(format: "linprobe %.1f%%", $0) } ?? ""
            say("done \(run.id) \(describe(run, axes: spec.axes))  \(ft)  \(lp)  (\(ProgressBar.duration(seconds)))")
        case .failed(let reason):
            say("FAILED \(run.id) \(describe(run, axes: spec.axes)): \(reason)")
        }
    }
}
