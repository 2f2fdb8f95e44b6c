import Foundation
import XCTest
import Results

/// A results database in a fresh temp directory, filled with hand-made runs.
struct FixtureDB {
    let dir: String
    let path: String

    init() throws {
        dir = NSTemporaryDirectory() + "mimlab-results-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/mimlab.sqlite"
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// Canonical config JSON (snake_case, sorted keys); `predResolution` nil leaves the key out.
    static func config(type: String, patch: Int, ratio: Double, seed: Int, predResolution: Int? = nil) -> String {
        let pred = predResolution.map { ",\"pred_resolution\":\($0)" } ?? ""
        return "{\"encoder\":{\"preset\":\"vit-micro\",\"vit\":{\"patch_size\":4}},\"head\":{\"type\":\"linear\"},"
            + "\"mask\":{\"patch\":\(patch),\"ratio\":\(ratio),\"type\":\"\(type)\"},\"method\":\"simmim\","
            + "\"pretrain\":{\"epochs\":4},\"seed\":\(seed),\"target\":{\"loss_on\":\"masked\"\(pred),\"type\":\"l1\"}}"
    }

    /// The standard fixture:
    /// r1, r2   random 4 0.6  seeds 0,1  done  top1 40, 42 (avgdist 2.0, 2.2)   sweeps t1 (r1 also sq)
    /// r3-r5    random 8 0.6  seeds 0-2  done  top1 45, 47, 49                  sweep t1
    /// r6       random 8 0.8  seed 0     pending, pred_resolution 16            sweep t1
    /// r7       square 8 0.25 seed 0     done  top1 41.5                        sweep sq
    /// r8       square 8 0.25 seed 1     failed                                 sweep sq
    func fill() throws {
        try withStore { store in
            let t1: [(String, String)] = [
                ("r1", FixtureDB.config(type: "random", patch: 4, ratio: 0.6, seed: 0)),
                ("r2", FixtureDB.config(type: "random", patch: 4, ratio: 0.6, seed: 1)),
                ("r3", FixtureDB.config(type: "random", patch: 8, ratio: 0.6, seed: 0)),
                ("r4", FixtureDB.config(type: "random", patch: 8, ratio: 0.6, seed: 1)),
                ("r5", FixtureDB.config(type: "random", patch: 8, ratio: 0.6, seed: 2)),
                ("r6", FixtureDB.config(type: "random", patch: 8, ratio: 0.8, seed: 0, predResolution: 16)),
            ]
            try store.register(t1.map { (id: $0.0, config: $0.1) }, sweep: "t1")
            try store.register([
                (id: "r1", config: t1[0].1),
                (id: "r7", config: FixtureDB.config(type: "square", patch: 8, ratio: 0.25, seed: 0)),
                (id: "r8", config: FixtureDB.config(type: "square", patch: 8, ratio: 0.25, seed: 1)),
            ], sweep: "sq")
            let done: [(String, [String: Double])] = [
                ("r1", ["finetune.top1": 40, "avgdist": 2.0, "linprobe.top1": 20]),
                ("r2", ["finetune.top1": 42, "avgdist": 2.2, "linprobe.top1": 22]),
                ("r3", ["finetune.top1": 45]), ("r4", ["finetune.top1": 47]), ("r5", ["finetune.top1": 49]),
                ("r7", ["finetune.top1": 41.5]),
            ]
            for (id, results) in done {
                try store.complete(id: id, results: results, metrics: [MetricPoint(phase: "pretrain", step: 1, name: "loss", value: 0.5)])
            }
            try store.fail(id: "r8", error: "diverged", metrics: [])
        }
    }

    /// Opens the store for `body` only, so its connections are closed (and the WAL
    /// checkpointed into the main file) when it returns.
    func withStore(_ body: (ResultsStore) throws -> Void) throws {
        let store = try ResultsStore(path: path)
        try body(store)
    }
}
