import Foundation
import Results
import Tensor
import Train

/// One task of a sweep's Slurm job array: runs entry `index` of a submission's task list
/// and writes the run's result shard. It never opens the results database, so any number
/// of tasks on any number of nodes can run at once.
public final class SlurmTaskRunner: @unchecked Sendable {
    public let list: SlurmSubmission.TaskList
    public let listPath: String
    public let index: Int
    /// How often Slurm requeued this task before (SLURM_RESTART_COUNT).
    public let restartCount: Int

    private let lock = NSLock()
    private var stopped = false

    public init(listPath: String, index: Int, restartCount: Int) throws {
        self.listPath = listPath
        list = try SlurmSubmission.TaskList.load(path: listPath)
        guard list.tasks.indices.contains(index) else {
            throw SweepError("\(listPath): no task \(index); the list has tasks 0 to \(list.tasks.count - 1)")
        }
        self.index = index
        self.restartCount = max(0, restartCount)
    }

    public var task: SlurmSubmission.Task { list.tasks[index] }

    /// The scheduler wants the task gone (time limit, pre-emption, scancel): pre-training
    /// saves its state at the next step and stops.
    public func requestStop() { lock.withLock { stopped = true } }
    public var stopRequested: Bool { lock.withLock { stopped } }

    public enum Outcome: Sendable {
        /// The run finished (done or failed) and its shard is at `shard`.
        case recorded(RunOutcome, shard: String)
        /// Stopped on request during pre-training, its state saved: the next attempt resumes.
        case stopped(TrainingStopped)
    }

    /// Where this run's resumable pre-training state lives (kept across requeues and
    /// resubmissions; removed once the run's shard is written).
    public var statePath: String { SlurmTaskRunner.statePath(checkpoints: list.checkpoints, id: task.id) }

    static func statePath(checkpoints: String, id: String) -> String { "\(checkpoints)/\(id)/pretrain-state.safetensors" }

    /// Runs the task's run and writes its shard. A run that fails (a diverged loss, a bad
    /// config, a missing dataset) is recorded as failed with the reason. Pre-training saves
    /// its state every `checkpointSeconds` and when asked to stop; an attempt after a
    /// pre-emption, a time limit or a kill continues from it. What keeps the shard from
    /// being written (a full disk) is thrown, the state kept for the next attempt.
    public func run(observer: TrainObserver, codeVersion: String) throws -> Outcome {
        let task = self.task
        let startedAt = Date().timeIntervalSince1970
        let recorder = MetricRecorder(forwardingTo: observer)
        let policy = CheckpointPolicy(path: statePath, everySeconds: list.checkpointSeconds,
                                      shouldStop: { [weak self] in self?.stopRequested ?? false })
        let outcome: RunOutcome
        do {
            let config = task.runConfig
            let planned = PlannedRun(config: config)
            guard planned.id == task.id, planned.canonicalJSON == task.config else {
                throw SweepError("\(listPath) task \(index): its config hashes to run \(planned.id), not \(task.id) (a task list of another mimlab version?)")
            }
            try FileManager.default.createDirectory(atPath: "\(list.checkpoints)/\(task.id)", withIntermediateDirectories: true)
            let data = try RunDataFactory.make(config, cacheDir: list.cache)
            let result = try Run(config: config, outputDir: nil, checkpoint: policy).execute(data, observer: recorder)
            outcome = .done(result.values)
        } catch let stop as TrainingStopped {
            return .stopped(stop)
        } catch {
            outcome = .failed("\(error)")
        }
        let run = ResultShard.Run(
            id: task.id, config: task.config, sweeps: task.sweeps, status: outcome.status,
            attempts: task.attempt + restartCount, codeVersion: codeVersion,
            blasKernel: BLASKernel.status.record, threads: Parallel.threads, startedAt: startedAt,
            finishedAt: Date().timeIntervalSince1970, error: outcome.error)
        let path = try ResultShard.write(dir: list.shards, run: run, results: outcome.results, metrics: recorder.points)
        try? policy.removeState()
        try? FileManager.default.removeItem(atPath: "\(list.checkpoints)/\(task.id)")
        return .recorded(outcome, shard: path)
    }
}

extension RunOutcome {
    var status: RunStatus {
        if case .done = self { return .done }
        return .failed
    }

    var results: [String: Double] {
        if case .done(let r) = self { return r }
        return [:]
    }

    var error: String? {
        if case .failed(let reason) = self { return reason }
        return nil
    }
}
