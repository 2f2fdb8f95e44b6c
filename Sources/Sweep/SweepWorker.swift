import Foundation
import Results
import Train

/// What a worker tells its caller while it works through a sweep (the CLI draws from it).
public protocol SweepObserver: AnyObject {
    /// A run was claimed; the returned observer receives its training progress.
    func runStarted(_ run: PlannedRun, attempt: Int, takenOver: Bool) -> TrainObserver
    func runFinished(_ run: PlannedRun, outcome: RunOutcome, seconds: Double)
}

public enum RunOutcome: Sendable {
    case done([String: Double])
    case failed(String)
}

/// Claims runs of a sweep from the results database one at a time and runs them, until
/// none is left that this worker may take. Any number of workers, in any number of
/// processes or hosts, can share one database: a claim is one IMMEDIATE transaction, a
/// run's results are written in one transaction, and a run whose worker died is taken over
/// (see `RunRecord.isStale`).
public final class SweepWorker: @unchecked Sendable {
    public let store: ResultsStore
    public let runs: [PlannedRun]
    public let identity: WorkerIdentity
    /// With `retryFailed`, runs that had failed before this worker started are run once more;
    /// one that fails again stays failed until the next `--retry-failed`.
    public let retryFailedBefore: Double?
    public let cacheDir: String?
    /// Where each run's checkpoint and results.json go (`<dir>/<run id>`); nil = not kept.
    public let outputRoot: String?

    private let lock = NSLock()
    private var current: String?
    private var stopped = false

    public init(store: ResultsStore, runs: [PlannedRun], identity: WorkerIdentity, retryFailed: Bool,
                cacheDir: String? = nil, outputRoot: String? = nil) {
        self.store = store; self.runs = runs; self.identity = identity
        self.retryFailedBefore = retryFailed ? Date().timeIntervalSince1970 : nil; self.cacheDir = cacheDir; self.outputRoot = outputRoot
    }

    /// The run this worker is running now, if any.
    public var currentRun: String? { lock.withLock { current } }

    /// Gives the current run back to the pool (Ctrl-C, SIGTERM) and stops claiming more.
    /// Safe to call from a signal-handling thread while the run is still computing.
    public func interrupt() {
        lock.lock()
        stopped = true
        let id = current
        current = nil
        lock.unlock()
        if let id { try? store.release(id: id, worker: identity) }
    }

    /// Runs until nothing is left to claim; returns how many runs it finished (done or failed).
    @discardableResult
    public func runAll(observer: SweepObserver) throws -> Int {
        let byID = Dictionary(runs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let order = runs.map(\.id)
        var finished = 0
        while true {
            if lock.withLock({ stopped }) { break }
            guard let claim = try store.claim(from: order, worker: identity, retryFailedBefore: retryFailedBefore) else { break }
            guard let run = byID[claim.id] else { continue }
            lock.withLock { current = claim.id }
            let train = observer.runStarted(run, attempt: claim.attempt, takenOver: claim.previousStatus == .running)
            let heartbeat = Heartbeat(store: store, id: claim.id, worker: identity, forwardingTo: train)
            let recorder = MetricRecorder(forwardingTo: heartbeat)
            let start = Date()
            let outcome: RunOutcome
            do {
                let data = try RunDataFactory.make(run.config, cacheDir: cacheDir)
                let dir = outputRoot.map { "\($0)/\(run.id)" }
                if let dir { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                let result = try Run(config: run.config, outputDir: dir).execute(data, observer: recorder)
                outcome = .done(result.values)
            } catch {
                outcome = .failed("\(error)")
            }
            heartbeat.stop()
            // Interrupted while running: the claim was given back; record nothing.
            guard lock.withLock({ current == claim.id }) else { break }
            switch outcome {
            case .done(let values): try store.complete(id: claim.id, results: values, metrics: recorder.points)
            case .failed(let reason): try store.fail(id: claim.id, error: reason, metrics: recorder.points)
            }
            lock.withLock { current = nil }
            finished += 1
            observer.runFinished(run, outcome: outcome, seconds: Date().timeIntervalSince(start))
        }
        return finished
    }
}

/// Keeps a run's heartbeat fresh from a background thread while it trains, so workers on
/// other hosts can tell a live run from a dead one, and carries where the run is with each
/// beat (`progress`), for the pool's progress line and `sweep status`.
public final class Heartbeat: TrainObserver, @unchecked Sendable {
    private let timer: DispatchSourceTimer
    private let next: TrainObserver
    private let lock = NSLock()
    /// The phase running, its steps done and of all (as the phase announced them).
    private var current: (phase: String, step: Int, total: Int?)?

    public init(store: ResultsStore, id: String, worker: WorkerIdentity, forwardingTo next: TrainObserver = SilentObserver(),
         interval: TimeInterval = RunRecord.heartbeatInterval) {
        self.next = next
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "mimlab.heartbeat"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in try? store.heartbeat(id: id, worker: worker, progress: self?.progress) }
        timer.resume()
    }

    public func stop() { timer.cancel() }

    /// "pretrain 312/625": the phase running and its steps done of all; nil before the first
    /// phase. Formatted here, once per beat, not on every training step.
    public var progress: String? {
        lock.withLock { current.map { "\($0.phase) \($0.step)/\($0.total.map(String.init) ?? "?")" } }
    }

    // The training loops call these on every step: a few fields under a lock, nothing more.
    public func phaseStarted(_ phase: String, totalSteps: Int) {
        lock.withLock { current = (phase, 0, totalSteps) }
        next.phaseStarted(phase, totalSteps: totalSteps)
    }

    public func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {
        lock.withLock { current = (phase, step, current?.phase == phase ? current?.total : nil) }
        next.stepFinished(phase, step: step, loss: loss, lr: lr, imagesPerSecond: imagesPerSecond)
    }

    public func metric(_ phase: String, step: Int, name: String, value: Double) { next.metric(phase, step: step, name: name, value: value) }
    public func phaseFinished(_ phase: String, seconds: Double) { next.phaseFinished(phase, seconds: seconds) }
    public func phaseResumed(_ phase: String, step: Int, path: String) { next.phaseResumed(phase, step: step, path: path) }
    public func checkpointIgnored(_ phase: String, path: String, reason: String) {
        next.checkpointIgnored(phase, path: path, reason: reason)
    }
    public func note(_ message: String) { next.note(message) }
}

/// Collects a run's metric history (per-epoch values from the loops, plus the training loss
/// every `stepEvery` steps) and forwards everything to the caller's observer.
final class MetricRecorder: TrainObserver {
    static let stepEvery = 10
    private let next: TrainObserver
    private(set) var points: [MetricPoint] = []

    init(forwardingTo next: TrainObserver) { self.next = next }

    func phaseStarted(_ phase: String, totalSteps: Int) { next.phaseStarted(phase, totalSteps: totalSteps) }

    func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {
        if step % MetricRecorder.stepEvery == 0, let loss {
            points.append(MetricPoint(phase: phase, step: step, name: "step_loss", value: loss))
            if let lr { points.append(MetricPoint(phase: phase, step: step, name: "lr", value: lr)) }
        }
        next.stepFinished(phase, step: step, loss: loss, lr: lr, imagesPerSecond: imagesPerSecond)
    }

    func metric(_ phase: String, step: Int, name: String, value: Double) {
        points.append(MetricPoint(phase: phase, step: step, name: name, value: value))
        next.metric(phase, step: step, name: name, value: value)
    }

    func phaseFinished(_ phase: String, seconds: Double) { next.phaseFinished(phase, seconds: seconds) }

    func phaseResumed(_ phase: String, step: Int, path: String) { next.phaseResumed(phase, step: step, path: path) }

    func checkpointIgnored(_ phase: String, path: String, reason: String) {
        next.checkpointIgnored(phase, path: path, reason: reason)
    }

    // A dataset's notes (cache size, skipped files) reach the person watching.
    func note(_ message: String) { next.note(message) }
}
