import Foundation
import Results
import Train

/// Where each run of a sweep stands in the database, and what running the rest would cost.
public struct SweepPlan {
    public enum State: String, CaseIterable, Sendable {
        case new        // not in the database
        case pending    // registered, never started (or given back after Ctrl-C)
        case running    // claimed by a live worker
        case stale      // claimed by a worker that is gone: will be run again
        case done
        case failed
    }

    public struct Entry {
        public var run: PlannedRun
        public var state: State
        public var record: RunRecord?
        /// Estimated wall seconds of this run on this machine with all cores.
        public var estimatedSeconds: Double
    }

    public var entries: [Entry]
    public var retryFailed: Bool

    public func count(_ s: State) -> Int { entries.filter { $0.state == s }.count }

    /// Runs a `sweep run` would start: new, pending and stale ones, and failed ones on retry.
    public var toRun: [Entry] {
        entries.filter { [.new, .pending, .stale].contains($0.state) || (retryFailed && $0.state == .failed) }
    }

    public var estimatedSeconds: Double { toRun.reduce(0) { $0 + $1.estimatedSeconds } }

    /// Reads the database without writing it (a missing file reads as empty).
    public static func make(_ spec: SweepSpec, dbPath: String, retryFailed: Bool = false) throws -> SweepPlan {
        let store = dbPath.isEmpty || FileManager.default.fileExists(atPath: dbPath) ? try ResultsStore(path: dbPath, readOnly: true) : nil
        return try make(spec, store: store, retryFailed: retryFailed)
    }

    public static func make(_ spec: SweepSpec, store: ResultsStore?, retryFailed: Bool = false) throws -> SweepPlan {
        let records = try store?.records(ids: spec.runs.map(\.id)) ?? [:]
        let cost = try CostModel(store: store)
        let now = Date().timeIntervalSince1970
        let host = WorkerIdentity.hostName
        let entries = spec.runs.map { run -> Entry in
            let r = records[run.id]
            let state: State
            switch r?.status {
            case nil: state = .new
            case .pending: state = .pending
            case .running: state = r!.isStale(now: now, thisHost: host) ? .stale : .running
            case .done: state = .done
            case .failed: state = .failed
            }
            return Entry(run: run, state: state, record: r, estimatedSeconds: cost.seconds(run.config))
        }
        return SweepPlan(entries: entries, retryFailed: retryFailed)
    }
}

/// Wall time of a run from its analytic FLOPs, calibrated by the runs already done in the
/// database (their measured seconds over their analytic cost, median); before any run is
/// done, by a throughput measured for vit-micro on a 2-core AVX-512 machine.
public struct CostModel {
    /// Effective training GFLOP/s of a whole run (pre-train at ~280 img/s, fine-tune and
    /// evaluation slower), from the default tiny run: 269 s.
    public static let uncalibratedGFLOPS = 100.0
    public private(set) var gflopsPerSecond: Double
    public private(set) var calibratedOn = 0

    public init(store: ResultsStore?) throws {
        gflopsPerSecond = CostModel.uncalibratedGFLOPS
        guard let store else { return }
        let rates = try store.doneRunThroughputs(limit: 200).filter { $0.isFinite && $0 > 0 }.sorted()
        if !rates.isEmpty {
            gflopsPerSecond = rates[rates.count / 2]
            calibratedOn = rates.count
        }
    }

    /// Analytic GFLOP of a whole run: pre-training steps, fine-tuning steps and its
    /// evaluation, the linear probe's feature pass.
    public static func gflop(_ c: RunConfig) -> Double {
        // A config that parsed names a registered method.
        let pre = (try? Methods.recipe(c)).map { $0.flopsPerImage(c).train } ?? 0
        let ft = Methods.finetuneFlopsPerImage(c)
        var total = Double((c.pretrained == nil ? c.pretrain.epochs : 0) * c.data.poolSize) * pre
        total += Double(c.finetune.epochs * c.data.finetuneSize) * ft.train
        if c.finetune.epochs > 0 { total += Double(c.data.testSize) * ft.forward }
        if c.linprobe.epochs > 0 { total += Double(c.data.finetuneSize + c.data.testSize) * ft.forward }
        return total / 1e9
    }

    public func seconds(_ c: RunConfig) -> Double { CostModel.gflop(c) / gflopsPerSecond }
}
