import ArgumentParser
import Foundation
import Results
import Sweep
import Tensor
import Train

enum Backend: String, ExpressibleByArgument, CaseIterable {
    case local, slurm
}

/// `sweep run` options that say where runs are made, and how a Slurm job array asks for them.
struct BackendOptions: ParsableArguments {
    @Option(help: "Where the runs are made: local (worker processes on this machine) or slurm (one job array on the cluster).")
    var backend: Backend = .local

    @Option(help: "Slurm: partition (default: the cluster's default partition).")
    var partition: String?

    @Option(help: "Slurm: time limit per task (MINUTES, HH:MM:SS or D-HH:MM:SS). A task that reaches it resumes from its last checkpoint when resubmitted.")
    var time: String?

    @Option(help: "Slurm: at most K array tasks at once (--array=0-N%K).")
    var arrayParallelism: Int?

    @Option(parsing: .unconditionalSingleValue,
            help: "Slurm: one more sbatch option for the script, e.g. --sbatch-arg --mem=4G (repeatable).")
    var sbatchArg: [String] = []

    @Flag(help: "Slurm: submit and return at once; `sweep run` again follows the job and merges its results.")
    var detach = false

    @Option(help: "Slurm: directory of the sbatch scripts, task logs, result shards and checkpoints (default: slurm/ beside --db).")
    var slurmDir: String?

    @Option(help: "Slurm: seconds between a task's pre-training checkpoints (a stopped task also saves one as it goes).")
    var checkpointEvery: Double = 60

    @Option(help: "Slurm: how many times to submit again, in this call, runs whose task the scheduler ended (time limit, pre-emption, node failure) after it saved pre-training progress.")
    var resubmit: Int = 3

    @Option(help: "Slurm: seconds between looks at the queue and the shards.")
    var poll: Double = 5

    func validate() throws {
        guard checkpointEvery > 0 else { throw ValidationError("--checkpoint-every \(checkpointEvery): must be more than 0 seconds") }
        guard poll > 0 else { throw ValidationError("--poll \(poll): must be more than 0 seconds") }
        guard resubmit >= 0 else { throw ValidationError("--resubmit \(resubmit): must be 0 or more") }
        if backend == .local {
            let slurmOnly = [partition != nil ? "--partition" : nil, time != nil ? "--time" : nil,
                             arrayParallelism != nil ? "--array-parallelism" : nil, sbatchArg.isEmpty ? nil : "--sbatch-arg",
                             detach ? "--detach" : nil, slurmDir != nil ? "--slurm-dir" : nil].compactMap { $0 }
            if !slurmOnly.isEmpty {
                throw ValidationError("\(slurmOnly.joined(separator: ", ")): only with --backend slurm")
            }
        }
    }
}

extension SweepRunCommand {
    /// `sweep run --backend slurm`: the loop is `SlurmSweep.runToEnd`; this shows its events.
    /// The sbatch resources the options ask for, checked (before the database is opened).
    func slurmResources() throws -> SlurmSubmission.Resources {
        let b = backendOptions
        let resources = SlurmSubmission.Resources(partition: b.partition, time: b.time, arrayParallelism: b.arrayParallelism,
                                                  cpusPerTask: threads ?? 1, extraArgs: b.sbatchArg)
        try resources.validate()
        return resources
    }

    func runSlurm(_ spec: SweepSpec, store: ResultsStore) throws {
        let b = backendOptions
        let resources = try slurmResources()
        let root = b.slurmDir ?? SlurmSweep.defaultRoot(dbPath: options.db)
        let sweep = SlurmSweep(spec: spec, store: store, root: root, identity: WorkerIdentity(codeVersion: CodeVersion.current, blasKernel: BLASKernel.status.record))
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let command = "(cd \(FileManager.default.currentDirectoryPath) && "
            + (["mimlab"] + CommandLine.arguments.dropFirst()).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + ")"
        let submitOptions = SlurmSweep.SubmitOptions(
            resources: resources, retryFailed: retryFailed, executable: exe,
            cacheDir: cache ?? RunDataFactory.defaultCacheDir(), checkpointSeconds: b.checkpointEvery,
            codeVersion: CodeVersion.current, command: command)

        var trap: SignalTrap?
        var bar: ProgressBar?
        var finishedBefore = 0
        let unfinished = try sweep.runToEnd(submitOptions, detach: b.detach, resubmit: b.resubmit, poll: b.poll) { event in
            switch event {
            case .merged(let n): say("merged \(n) result shard(s) into \(options.db)")
            case .badShard(let file, let reason): say("mimlab: warning: \(file): \(reason) (left in place; the database is untouched)")
            case .submitted(let s):
                say("submitted job \(s.jobID): \(s.runIDs.count) task(s), script \(s.submission.scriptPath)")
                say("  task logs: \(s.submission.logDirectory)/\(s.jobID)_<index>.out; shards: \(sweep.shardsDir)")
            case .nothingToSubmit: say("nothing to submit: every run of the sweep is done, failed, or already queued or running")
            case .detached:
                say("detached: `mimlab sweep run \(options.spec) --backend slurm` again follows the job and merges its results "
                    + "(`mimlab sweep status \(options.spec)` shows the database)")
            case .resubmitting(let count, let round, let of):
                say("submitting again \(count) run(s) whose task the scheduler ended after it saved pre-training progress "
                    + "(round \(round) of at most \(of))")
            case .progress(let p, let first):
                if trap == nil {
                    trap = SignalTrap { _ in
                        say("\nstopped following; the job keeps running on the cluster. `mimlab sweep run \(options.spec) --backend slurm` "
                            + "follows it again (nothing is submitted twice) and merges its results")
                        exitNow(130)
                    }
                }
                // The bar counts the runs this wait is for, not those finished before.
                if first {
                    finishedBefore = p.done + p.failed
                    bar = ProgressBar("sweep \(spec.name) (slurm)", total: p.total - finishedBefore, unit: "run")
                }
                let jobs = p.jobs.isEmpty ? "" : ", job \(p.jobs.joined(separator: ","))"
                bar?.update(max(0, p.done + p.failed - finishedBefore),
                            trailing: "\(p.running) running, \(p.queued) queued, \(p.failed) failed\(jobs)")
            case .followed:
                bar?.finish()
                bar = nil
            case .noResult(let u):
                let task = u.task?.taskID.map { "task \($0)" } ?? "no task"
                say("no result for run \(u.run.id) \(describe(u.run, axes: spec.axes)) (\(task)): \(u.reason)"
                    + (u.log.map { "; log \($0)" } ?? "") + (u.savedProgress ? "; its pre-training state is saved" : ""))
            }
        }
        if b.detach { return }
        trap?.cancel()
        if !unfinished.isEmpty {
            say("mimlab: \(unfinished.count) run(s) ended without a result; `mimlab sweep run \(options.spec) --backend slurm` "
                + "submits them again (pre-training resumes from its last checkpoint)")
        }
        try finish(spec, plan: try SweepPlan.make(spec, store: store), exitStatusIfUnfinished: unfinished.isEmpty ? nil : 1)
    }
}

/// One task of a sweep's Slurm job array (written into the sbatch script; not meant to be typed).
struct SweepTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Run one task of a sweep's Slurm job array.", shouldDisplay: false)

    @Argument(help: "The submission's tasks.json.")
    var taskList: String

    @Option(help: "Task index (default: $SLURM_ARRAY_TASK_ID).")
    var index: Int?

    @Option(help: "Compute threads.")
    var threads: Int = 1

    func validate() throws { try checkThreads(threads) }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        guard let index = index ?? env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) else {
            throw CLIError("sweep task: no --index and no SLURM_ARRAY_TASK_ID")
        }
        let restarts = env["SLURM_RESTART_COUNT"].flatMap(Int.init) ?? 0
        let runner = try SlurmTaskRunner(listPath: taskList, index: index, restartCount: restarts)
        Parallel.threads = threads
        let name = env["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(index)" } ?? "task \(index)"
        let say = { (s: String) in FileHandle.standardError.write(Data(("mimlab \(name): " + s + "\n").utf8)) }
        say("run \(runner.task.id) of sweep \(runner.list.sweep), attempt \(runner.task.attempt + restarts), "
            + "\(threads) thread(s) on \(WorkerIdentity.hostName)")
        // SIGTERM is how Slurm ends a task (time limit, pre-emption, scancel), KillWait
        // seconds before SIGKILL. In pre-training the loop saves its state at the next step
        // and stops; in the later phases there is nothing to save, and the task leaves at once.
        // A signal that lands near the end of pre-training can find the loop past its last
        // stop check; the task must still leave before the next phase rather than finish a
        // run its scheduler cancelled (pre-training's final state is saved, so the next
        // attempt starts at the probe).
        let phase = PhaseTracker(forwardingTo: ProgressObserver()) { next in
            guard runner.stopRequested else { return }
            say("stop requested during pre-training, which finished; leaving before \(next) without a result")
            exitNow(143)
        }
        let trap = SignalTrap { sig in
            runner.requestStop()
            guard phase.current == "pretrain" else {
                say("signal \(sig) in \(phase.current ?? "set-up"): stopping without a result; the next `sweep run` submits the run again")
                exitNow(143)
            }
            say("signal \(sig): saving pre-training state at the next step")
            DispatchQueue.global().asyncAfter(deadline: .now() + 20) {
                say("pre-training did not stop within 20 s; leaving without saving")
                exitNow(143)
            }
        }
        let outcome: SlurmTaskRunner.Outcome
        do { outcome = try runner.run(observer: phase, codeVersion: CodeVersion.current) } catch {
            say("error: \(error)")
            exitNow(1)
        }
        trap.cancel()
        switch outcome {
        case .recorded(.done(let r), let shard):
            let ft = r["finetune.top1"].map { String(format: "finetune %.1f%%", $0) } ?? ""
            let resumed = r["pretrain.resumed_from"].map { String(format: " (pre-training resumed at step %.0f)", $0) } ?? ""
            say("done \(runner.task.id) \(ft)\(resumed); shard \(shard)")
        case .recorded(.failed(let reason), let shard):
            say("FAILED \(runner.task.id): \(reason); shard \(shard)")
        case .stopped(let stop):
            say("\(stop); the next attempt resumes from it")
            exitNow(143)
        }
    }
}

/// Which phase a run is in, for a signal handler deciding whether to wait for a checkpoint.
final class PhaseTracker: TrainObserver, @unchecked Sendable {
    private let next: TrainObserver
    private let lock = NSLock()
    private var phase: String?

    private let entering: (String) -> Void

    /// `entering` is called with each phase's name before it starts.
    init(forwardingTo next: TrainObserver, entering: @escaping (String) -> Void = { _ in }) {
        self.next = next
        self.entering = entering
    }

    var current: String? { lock.withLock { phase } }

    func phaseStarted(_ phase: String, totalSteps: Int) {
        entering(phase)
        lock.withLock { self.phase = phase }
        next.phaseStarted(phase, totalSteps: totalSteps)
    }
    func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {
        next.stepFinished(phase, step: step, loss: loss, lr: lr, imagesPerSecond: imagesPerSecond)
    }
    func metric(_ phase: String, step: Int, name: String, value: Double) { next.metric(phase, step: step, name: name, value: value) }
    func phaseFinished(_ phase: String, seconds: Double) {
        lock.withLock { self.phase = nil }
        next.phaseFinished(phase, seconds: seconds)
    }
    func phaseResumed(_ phase: String, step: Int, path: String) { next.phaseResumed(phase, step: step, path: path) }
    func checkpointIgnored(_ phase: String, path: String, reason: String) {
        next.checkpointIgnored(phase, path: path, reason: reason)
    }
}
