import Foundation

/// Handles SIGINT and SIGTERM (Ctrl-C; a scheduler's stop) on a dispatch queue, so the
/// handler may touch the database while the main thread is deep in a training step.
public final class SignalTrap {
    private var sources: [DispatchSourceSignal] = []

    public init(_ handler: @escaping (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "mimlab.signal"))
            s.setEventHandler { handler(sig) }
            s.resume()
            sources.append(s)
        }
    }

    public func cancel() {
        for s in sources { s.cancel() }
        for sig in [SIGINT, SIGTERM] { signal(sig, SIG_DFL) }
    }
}

/// Leaves at once from a signal or watchdog thread while the main thread may still be inside
/// OpenBLAS: `exit` would run the process's destructors under it (a crash trace on Ctrl-C).
/// Everything that matters is already committed (the claim was given back in its own
/// transaction; SQLite's WAL is durable without a close).
public func exitNow(_ status: Int32) -> Never {
    fflush(stdout)
    fflush(stderr)
    _exit(status)
}

/// A pool worker's watch on its runner. A runner killed with -9 cannot stop its workers,
/// so each worker looks every `interval` whether its parent is still the runner that
/// started it, and calls `onOrphaned` (once) when it is not. The watch runs on its own
/// thread, which lives as long as the process: nothing can let it go out of scope.
public enum ParentWatch {
    public static func start(parentPid: Int32, interval: TimeInterval = 0.5, onOrphaned: @escaping @Sendable () -> Void) {
        let thread = Thread {
            while getppid() == parentPid { Thread.sleep(forTimeInterval: interval) }
            onOrphaned()
        }
        thread.name = "mimlab.parent-watch"
        thread.start()
    }
}
