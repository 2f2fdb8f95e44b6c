import Foundation
import Dispatch

/// The one place mimlab decides how many cores a computation uses.
///
/// Work is split into `threads` contiguous chunks whose boundaries depend only on the
/// problem size and the thread count, and every chunk writes a disjoint output range, so
/// a result never depends on scheduling. OpenBLAS is kept single-threaded (see `BLAS`) and
/// large matrix products are split here instead, so BLAS threads never spin against ours.
public enum Parallel {
    nonisolated(unsafe) private static var _threads: Int = defaultThreads()

    public static var threads: Int {
        get { _threads }
        set { _threads = max(1, newValue) }
    }

    public static func defaultThreads() -> Int {
        if let s = ProcessInfo.processInfo.environment["MIMLAB_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Elementwise passes below this many elements are not worth a thread hand-off.
    public static let elementwiseGrain = 262_144

    /// Calls `body(lo, hi)` on `min(threads, chunks)` contiguous ranges covering 0..<n.
    @inline(__always)
    public static func chunks(_ n: Int, threads t: Int = Parallel.threads, minPerChunk: Int = 1,
                              _ body: (Int, Int) -> Void) {
        if n <= 0 { return }
        let parts = max(1, min(t, n / max(1, minPerChunk)))
        if parts == 1 { body(0, n); return }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = n * p / parts, hi = n * (p + 1) / parts
            if lo < hi { body(lo, hi) }
        }
    }

    /// `for i in 0..<n` spread over the cores; each index is handled by exactly one thread.
    @inline(__always)
    public static func forEach(_ n: Int, minPerChunk: Int = 1, _ body: (Int) -> Void) {
        chunks(n, minPerChunk: minPerChunk) { lo, hi in for i in lo..<hi { body(i) } }
    }

    /// An elementwise pass over `count` elements: threaded only when it pays.
    @inline(__always)
    public static func elementwise(_ count: Int, _ body: (Int, Int) -> Void) {
        if count < elementwiseGrain || threads == 1 { body(0, count); return }
        chunks(count, minPerChunk: elementwiseGrain / 2, body)
    }
}
