import Foundation
import Results
import Tensor
import Train

/// The local backend of `sweep run`: runs claimed from the database in this process, or by
/// N worker processes (`mimlab sweep worker`) that this process starts and watches.
public enum LocalPool {
    /// Claims and runs the sweep's runs in this process until none is left. Ctrl-C or
    /// SIGTERM gives the run in flight back to the pool and exits 130; with `parentPid`
    /// (a pool worker), so does the death of the runner that started it.
    public static func runWorker(_ spec: SweepSpec, store: ResultsStore, threads: Int, retryFailed: Bool, cache: String?,
                                 keepRuns: String?, observer: SweepObserver, parentPid: Int32? = nil,
                                 say: @escaping @Sendable (String) -> Void) throws {
        Parallel.threads = threads
        let identity = WorkerIdentity(codeVersion: CodeVersion.current, blasKernel: BLASKernel.status.record, threads: threads)
        let worker = SweepWorker(store: store, runs: spec.runs, identity: identity,
                                 retryFailed: retryFailed, cacheDir: cache, outputRoot: keepRuns)
        let giveBack = { (why: String) -> Never in
            let id = worker.currentRun
            worker.interrupt()
            say("\n\(why)" + (id.map { ": run \($0) given back" } ?? "") + "; `mimlab sweep run` again resumes the sweep")
            exitNow(130)
        }
        let trap = SignalTrap { _ in giveBack("interrupted") }
        if let parentPid {
            ParentWatch.start(parentPid: parentPid) { giveBack("the runner (pid \(parentPid)) is gone") }
        }
        try worker.runAll(observer: observer)
        trap.cancel()
    }

    /// What the pool has done so far, for a progress line.
    public struct Progress: Sendable {
        public var finished = 0, total = 0, running = 0, failed = 0
        public init(total: Int) { self.total = total }
        /// Where each running run of the sweep is, by run id, as of its last heartbeat
        /// ("pretrain 312/625"; runs that have not beaten yet are left out).
        public var inFlight: [(id: String, progress: String)] = []

        /// "80ddc65e pretrain 312/625, 72035453 finetune 40/625"
        public var runningText: String {
            inFlight.map { "\($0.id.prefix(8)) \($0.progress)" }.joined(separator: ", ")
        }
    }

    /// Starts one `executable` process per element of `workerArguments` and waits for all,
    /// reporting progress from the database every second. Ctrl-C or SIGTERM is passed on to
    /// the workers (each gives its run back) before this process exits 130. Returns the
    /// workers' exit statuses.
    public static func runPool(_ spec: SweepSpec, store: ResultsStore, toRun: Set<String>, executable: URL,
                               workerArguments: [[String]], progress: (Progress) -> Void) throws -> [Int32] {
        var children: [Process] = []
        for (k, args) in workerArguments.enumerated() {
            let p = Process()
            p.executableURL = executable
            p.arguments = args
            do { try p.run() } catch {
                for c in children { kill(c.processIdentifier, SIGTERM) }
                throw SweepError("cannot start worker \(k + 1) (\(executable.path)): \(error.localizedDescription)")
            }
            children.append(p)
        }
        let trap = SignalTrap { sig in
            for c in children where c.isRunning { kill(c.processIdentifier, sig) }
            for c in children { c.waitUntilExit() }
            exitNow(130)
        }
        let ids = spec.runs.map(\.id)
        let start = Date().timeIntervalSince1970
        while children.contains(where: \.isRunning) {
            Thread.sleep(forTimeInterval: 1)
            guard let records = try? store.records(ids: ids) else { continue }
            var p = Progress(total: toRun.count)
            // Failed before this sweep started = not finished by it (they are in toRun only on retry).
            p.finished = toRun.filter {
                guard let r = records[$0] else { return false }
                return r.status == .done || (r.status == .failed && (r.finishedAt ?? 0) >= start)
            }.count
            p.failed = records.values.filter { $0.status == .failed }.count
            p.running = records.values.filter { $0.status == .running }.count
            p.inFlight = ids.compactMap { id in
                guard let r = records[id], r.status == .running, let text = r.progress else { return nil }
                return (id, text)
            }
            progress(p)
        }
        trap.cancel()
        return children.map(\.terminationStatus)
    }
}
