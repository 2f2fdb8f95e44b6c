import Foundation
import NN

/// When a training loop saves its resumable state, and when it stops early: for a batch job
/// that the scheduler may pre-empt, requeue or kill at its time limit. The next attempt,
/// given the same policy, continues from the file instead of starting over.
///
/// The loop writes the state (atomically) every `everySteps` optimiser steps, at least every
/// `everySeconds`, when `shouldStop` says so, and once the phase is complete, so a job killed
/// in a later phase does not redo this one. The state belongs to one run config: the caller
/// removes it (`removeState`) once the run's results are safely recorded.
public struct CheckpointPolicy: Sendable {
    /// The file holding the resumable state (safetensors).
    public var path: String
    /// Write every N optimiser steps; 0 = not by step count.
    public var everySteps: Int
    /// Write when this many seconds have passed since the last write (or the attempt's
    /// start); nil = not by time. Wall time only decides *when* to write, never a number.
    public var everySeconds: Double?
    /// Polled after every optimiser step. True: write the state at this step boundary and
    /// throw `TrainingStopped` (e.g. set from a SIGTERM handler, or near a time limit).
    public var shouldStop: @Sendable () -> Bool

    public init(path: String, everySteps: Int = 0, everySeconds: Double? = nil,
                shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.path = path
        self.everySteps = max(0, everySteps)
        self.everySeconds = everySeconds
        self.shouldStop = shouldStop
    }

    /// Deletes the state file; a missing file is not an error. Call it only after the run's
    /// results are recorded: until then the file is what saves the next attempt the work.
    public func removeState() throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw SafetensorsFile.Failure.io(path, "cannot remove: \(String(cString: strerror(errno)))")
        }
    }
}

/// A loop stopped on `CheckpointPolicy.shouldStop` after saving its state to `path`; running
/// the same config with the same policy again continues from `step`.
public struct TrainingStopped: Error, CustomStringConvertible {
    public let phase: String
    public let step: Int
    public let totalSteps: Int
    public let path: String

    public init(phase: String, step: Int, totalSteps: Int, path: String) {
        self.phase = phase; self.step = step; self.totalSteps = totalSteps; self.path = path
    }

    public var description: String { "\(phase) stopped at step \(step) of \(totalSteps); state saved to \(path)" }
}
