import Foundation

/// What a training loop reports while it runs. The CLI draws progress bars from it; the
/// results store records the metric history from it. Loops never print.
public protocol TrainObserver: AnyObject {
    func phaseStarted(_ phase: String, totalSteps: Int)
    /// One optimiser step (or evaluation batch) done: `step` counts from 1.
    func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double)
    /// A point of the metric history, e.g. ("pretrain", epoch 2, "loss", 0.41).
    func metric(_ phase: String, step: Int, name: String, value: Double)
    func phaseFinished(_ phase: String, seconds: Double)
    /// The phase continues from the saved state at `path`: its first `step` steps were done
    /// by an earlier attempt and are replayed next (the same calls they made then, with
    /// `imagesPerSecond` 0), so a recorded history has every step once.
    func phaseResumed(_ phase: String, step: Int, path: String)
    /// The saved state at `path` could not be used (`reason`); the phase starts over and
    /// overwrites it.
    func checkpointIgnored(_ phase: String, path: String, reason: String)
    /// Something a person should see once, outside any phase (a dataset's cache size,
    /// skipped files).
    func note(_ message: String)
}

extension TrainObserver {
    public func phaseStarted(_ phase: String, totalSteps: Int) {}
    public func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {}
    public func metric(_ phase: String, step: Int, name: String, value: Double) {}
    public func phaseFinished(_ phase: String, seconds: Double) {}
    public func phaseResumed(_ phase: String, step: Int, path: String) {}
    public func checkpointIgnored(_ phase: String, path: String, reason: String) {}
    public func note(_ message: String) {}
}

/// Reports nothing.
public final class SilentObserver: TrainObserver {
    public init() {}
}

/// A run stopped because its loss stopped being a number.
public struct DivergenceError: Error, CustomStringConvertible {
    public let phase: String
    public let step: Int
    public let loss: Double
    public var description: String { "\(phase) diverged at step \(step): loss = \(loss)" }
}

enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
