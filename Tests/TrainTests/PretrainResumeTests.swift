import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// A run stopped mid-pre-training (or killed after it) and run again with the same
/// checkpoint policy ends exactly where an uninterrupted run ends: same parameters, same
/// results, same observer history.
final class PretrainResumeTests: XCTestCase {
    /// 128 / 32 = 4 steps per epoch, 3 epochs: 12 pre-training steps.
    static let tiny = """
    data: {pool_size: 128, finetune_size: 64, test_size: 64}
    encoder: {preset: vit-nano}
    pretrain: {epochs: 3, batch: 32}
    finetune: {epochs: 1, batch: 32}
    linprobe: {epochs: 1, batch: 32}
    """
    static let totalSteps = 12

    var dir: String!
    var statePath: String { dir + "/state/pretrain-state.safetensors" }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-resume-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Every observer call that makes up a run's history (rates and seconds are timing).
    final class CallLog: TrainObserver {
        enum Call: Equatable {
            case started(String, Int)
            case step(String, Int, Double?, Double?)
            case metric(String, Int, String, Double)
            case finished(String)
        }
        var calls: [Call] = []
        var pretrainRates: [Double] = []
        var resumed: [Int] = []
        var ignored: [String] = []

        func phaseStarted(_ phase: String, totalSteps: Int) { calls.append(.started(phase, totalSteps)) }
        func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {
            calls.append(.step(phase, step, loss, lr))
            if phase == "pretrain" { pretrainRates.append(imagesPerSecond) }
        }
        func metric(_ phase: String, step: Int, name: String, value: Double) { calls.append(.metric(phase, step, name, value)) }
        func phaseFinished(_ phase: String, seconds: Double) { calls.append(.finished(phase)) }
        func phaseResumed(_ phase: String, step: Int, path: String) { resumed.append(step) }
        func checkpointIgnored(_ phase: String, path: String, reason: String) { ignored.append(reason) }
    }

    /// Counts pre-training batches drawn, i.e. optimiser steps taken.
    struct CountingSource: BatchSource {
        final class Count { var fills = 0 }
        let base: BatchSource
        let count = Count()
        var batchSize: Int { base.batchSize }
        var batchesPerEpoch: Int { base.batchesPerEpoch }
        var imageShape: (channels: Int, size: Int) { base.imageShape }
        func fill(epoch: Int, index: Int, images: Tensor) -> [Int32] {
            count.fills += 1
            return base.fill(epoch: epoch, index: index, images: images)
        }
    }

    /// `shouldStop` that says yes on its `at`-th poll, i.e. after optimiser step `at` of
    /// the attempt.
    final class StopAt: @unchecked Sendable {
        let at: Int
        var polls = 0
        init(_ at: Int) { self.at = at }
        var policy: @Sendable () -> Bool { { self.polls += 1; return self.polls == self.at } }
    }

    struct Outcome {
        var result: RunResult
        var log: CallLog
        var out: String
        var pretrainFills: Int
    }

    func config(_ overrides: [String] = []) throws -> RunConfig {
        try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: overrides)
    }

    /// One attempt of the run in its own output directory.
    func attempt(_ name: String, _ c: RunConfig, checkpoint: CheckpointPolicy?) throws -> Outcome {
        var data = try RunDataFactory.make(c, cacheDir: dir + "/cache")
        let counting = CountingSource(base: data.pretrain)
        data.pretrain = counting
        let out = dir + "/" + name, log = CallLog()
        let r = try Run(config: c, outputDir: out, checkpoint: checkpoint).execute(data, observer: log)
        return Outcome(result: r, log: log, out: out, pretrainFills: counting.count.fills)
    }

    /// An attempt that `shouldStop` ends after step `k`; checks what it throws.
    func stoppedAttempt(_ c: RunConfig, at k: Int, everySteps: Int = 0) throws {
        let policy = CheckpointPolicy(path: statePath, everySteps: everySteps, shouldStop: StopAt(k).policy)
        XCTAssertThrowsError(try attempt("stopped", c, checkpoint: policy)) { e in
            guard let stop = e as? TrainingStopped else { return XCTFail("threw \(e)") }
            XCTAssertEqual(stop.step, k)
            XCTAssertEqual("\(stop)", "pretrain stopped at step \(k) of \(Self.totalSteps); state saved to \(statePath)")
        }
        XCTAssertEqual(try SafetensorsFile(contentsOf: statePath).metadata["step"], String(k))
    }

    /// The results that do not measure time, and not the resume marker.
    func numbers(_ r: RunResult) -> [String: Double] {
        r.values.filter { !$0.key.hasSuffix("seconds") && $0.key != "pretrain.resumed_from" }
    }

    func pretrainedWeights(_ o: Outcome) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: o.out + "/pretrain.safetensors"))
    }

    var references: [String: Outcome] = [:]

    /// The run without interruption and without a policy.
    func reference(_ c: RunConfig) throws -> Outcome {
        if let r = references[c.canonicalJSON()] { return r }
        let r = try attempt("reference-\(references.count)", c, checkpoint: nil)
        references[c.canonicalJSON()] = r
        return r
    }

    /// The same run, from scratch, with the same log observer; with a policy, everything it
    /// computes is the same as without one.
    func assertEqualsUninterrupted(_ o: Outcome, _ c: RunConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        let ref = try reference(c)
        XCTAssertNil(ref.result["pretrain.resumed_from"], file: file, line: line)
        XCTAssertEqual(numbers(o.result), numbers(ref.result), file: file, line: line)
        XCTAssertEqual(o.log.calls.count, ref.log.calls.count, file: file, line: line)
        XCTAssert(o.log.calls == ref.log.calls, "observer histories differ", file: file, line: line)
        XCTAssertEqual(try pretrainedWeights(o), try pretrainedWeights(ref), "final parameters differ", file: file, line: line)
    }

    func testStoppedRunResumesBitIdentically() throws {
        let c = try config()
        try stoppedAttempt(c, at: 7, everySteps: 3)   // saved at 3, 6, then at the stop (mid-epoch 2)
        let resumed = try attempt("resumed", c, checkpoint: CheckpointPolicy(path: statePath, everySteps: 3))
        XCTAssertEqual(resumed.result["pretrain.resumed_from"], 7)
        XCTAssertEqual(resumed.log.resumed, [7])
        XCTAssertEqual(resumed.pretrainFills, Self.totalSteps - 7)
        // The replayed steps report no rate; the ones run now do.
        XCTAssertEqual(resumed.log.pretrainRates.count, Self.totalSteps)
        XCTAssert(resumed.log.pretrainRates.prefix(7).allSatisfy { $0 == 0 })
        XCTAssert(resumed.log.pretrainRates.dropFirst(7).allSatisfy { $0 > 0 })
        try assertEqualsUninterrupted(resumed, c)
        // The finished phase stays saved until the caller removes it.
        XCTAssertEqual(try SafetensorsFile(contentsOf: statePath).metadata["step"], String(Self.totalSteps))
    }

    /// MAE's masks (noise from the mask PRNG) and its β₂ 0.95 moments resume as SimMIM's do.
    func testStoppedMAERunResumesBitIdentically() throws {
        let c = try config(["method=mae", "mask.patch=4", "mask.ratio=0.75", "mae.decoder_width=32",
                            "linprobe.epochs=0", "finetune.epochs=0"])
        try stoppedAttempt(c, at: 5, everySteps: 2)
        let resumed = try attempt("resumed", c, checkpoint: CheckpointPolicy(path: statePath, everySteps: 2))
        XCTAssertEqual(resumed.result["pretrain.resumed_from"], 5)
        XCTAssertEqual(resumed.pretrainFills, Self.totalSteps - 5)
        try assertEqualsUninterrupted(resumed, c)
    }

    func testRunKilledAfterPretrainingDoesNoPretrainingStepAgain() throws {
        let c = try config()
        try stoppedAttempt(c, at: Self.totalSteps)
        let resumed = try attempt("resumed", c, checkpoint: CheckpointPolicy(path: statePath))
        XCTAssertEqual(resumed.pretrainFills, 0)
        XCTAssertEqual(resumed.result["pretrain.resumed_from"], Double(Self.totalSteps))
        XCTAssert(resumed.log.pretrainRates.allSatisfy { $0 == 0 })
        try assertEqualsUninterrupted(resumed, c)
    }

    func testStateOfAnotherConfigIsIgnored() throws {
        try stoppedAttempt(try config(["seed=5"]), at: 5)
        let c = try config()
        let run = try attempt("run", c, checkpoint: CheckpointPolicy(path: statePath))
        XCTAssertNil(run.result["pretrain.resumed_from"])
        XCTAssertEqual(run.log.ignored, ["written for another run config"])
        XCTAssertEqual(run.pretrainFills, Self.totalSteps)
        try assertEqualsUninterrupted(run, c)
        // Overwritten with this run's state.
        let meta = try SafetensorsFile(contentsOf: statePath).metadata
        XCTAssertEqual(meta["config"], c.canonicalJSON())
        XCTAssertEqual(meta["step"], String(Self.totalSteps))
    }

    func testDamagedStateIsIgnored() throws {
        let c = try config()
        try stoppedAttempt(c, at: 5)
        let good = try Data(contentsOf: URL(fileURLWithPath: statePath))
        var flipped = good
        flipped[flipped.count - 3] ^= 0x10               // inside the last tensor's data
        let damaged: [(String, Data)] = [("truncated", good.prefix(good.count / 2)), ("flipped", flipped),
                                         ("garbage", Data("not a checkpoint".utf8)), ("empty", Data())]
        for (name, bytes) in damaged {
            try bytes.write(to: URL(fileURLWithPath: statePath))
            let run = try attempt(name, c, checkpoint: CheckpointPolicy(path: statePath))
            XCTAssertNil(run.result["pretrain.resumed_from"], name)
            XCTAssertEqual(run.log.ignored.count, 1, name)
            XCTAssertEqual(run.pretrainFills, Self.totalSteps, name)
            if name == "flipped" { XCTAssertEqual(run.log.ignored, ["checksum mismatch (damaged file)"]) }
            try assertEqualsUninterrupted(run, c)
        }
    }

    func testResumedRunReportsConfiguredSteps() throws {
        let c = try config()
        try stoppedAttempt(c, at: 5)
        let resumed = try attempt("resumed", c, checkpoint: CheckpointPolicy(path: statePath))
        XCTAssertEqual(resumed.result["pretrain.steps"], Double(Self.totalSteps))
        XCTAssertEqual(resumed.result["pretrain.resumed_from"], 5)
        let ref = try reference(c)
        XCTAssertEqual(resumed.result["pretrain.gflop"], ref.result["pretrain.gflop"])
        // The resume marker comes in; the CPU seconds go (earlier slices ran in another process).
        XCTAssertEqual(Set(resumed.result.values.keys),
                       Set(ref.result.values.keys).subtracting(["pretrain.cpu_seconds"]).union(["pretrain.resumed_from"]))
        XCTAssertGreaterThan(resumed.result["pretrain.seconds"]!, 0)

        let policy = CheckpointPolicy(path: statePath)
        try policy.removeState()
        XCTAssertFalse(FileManager.default.fileExists(atPath: statePath))
        XCTAssertNoThrow(try policy.removeState())       // already gone: fine
    }

    /// Without a policy and with one (no file yet), pre-training computes the same numbers;
    /// the finished state puts back every parameter exactly, whatever the model held.
    func testPolicyChangesNoNumberAndStateRoundTrips() throws {
        let c = try config(["linprobe.epochs=0", "finetune.epochs=0"])
        let data = try RunDataFactory.make(c, cacheDir: dir + "/cache")
        func model(seed: UInt64 = 9) throws -> SimMIM {
            let m = try SimMIM(c.encoder.vit, try c.simmimConfig(), pixels: data.pixels, masks: c.maskSpec)
            var rng = PRNG(seed: seed)
            m.initialize(&rng)
            return m
        }
        let trainer = Pretrainer(phase: c.pretrain, seed: 3)
        let plain = try model(), saved = try model(), restored = try model(seed: 10)   // all its values come from the file
        let a = try trainer.run(plain, data: data.pretrain)
        let b = try trainer.run(saved, data: data.pretrain, checkpoint: CheckpointPolicy(path: statePath), config: "x")
        XCTAssertEqual(a.finalLoss, b.finalLoss)
        XCTAssertNil(b.resumedFrom)
        let r = try trainer.run(restored, data: data.pretrain, checkpoint: CheckpointPolicy(path: statePath), config: "x")
        XCTAssertEqual(r.resumedFrom, Self.totalSteps)
        XCTAssertEqual(r.finalLoss, a.finalLoss)
        XCTAssertEqual(r.steps, a.steps)
        for ((p, q), s) in zip(zip(plain.parameters, saved.parameters), restored.parameters) {
            let n = p.count
            XCTAssert((0..<n).allSatisfy { p.value[$0].bitPattern == q.value[$0].bitPattern && q.value[$0].bitPattern == s.value[$0].bitPattern }, p.name)
        }
    }
}
