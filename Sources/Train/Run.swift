import Data
import Foundation
import MIM
import NN
import Tensor

/// The data one run needs, in the loops' terms.
public struct RunData {
    public var pretrain: BatchSource           // unlabelled pool, augmented
    public var finetune: BatchSource           // the labelled budget, augmented
    public var probeTrain: EvaluationSource    // the labelled budget, plain
    public var test: EvaluationSource          // held-out split
    public var classes: Int
    /// How images were normalised (bins and colour-cluster targets work on raw colours).
    public var pixels: PixelNormalization
    /// The unlabelled pool, for fitting a colour palette (`color-cluster-K`).
    public var pool: (any Dataset)?

    public init(pretrain: BatchSource, finetune: BatchSource, probeTrain: EvaluationSource,
                test: EvaluationSource, classes: Int, pixels: PixelNormalization, pool: (any Dataset)? = nil) {
        self.pretrain = pretrain; self.finetune = finetune; self.probeTrain = probeTrain
        self.test = test; self.classes = classes; self.pixels = pixels; self.pool = pool
    }
}

/// Final numbers of one run, under the names the results database uses.
public struct RunResult: Codable, Sendable {
    public var values: [String: Double] = [:]
    public init() {}
    public subscript(_ key: String) -> Double? {
        get { values[key] }
        set { values[key] = newValue }
    }
}

/// One run: AvgDist of the mask distribution, pre-training by the config's method (skipped with
/// `pretrain.epochs: 0`, the random-initialisation baseline, or taken from an earlier run
/// with `pretrained`), a linear probe of the frozen
/// pre-trained encoder, then fine-tuning; checkpoint and results JSON in `outputDir`.
///
/// With a `checkpoint` policy, pre-training is resumable (see `CheckpointPolicy`): a run
/// that was stopped or killed continues from its saved state, and `pretrain.resumed_from`
/// says from which step. Its numbers equal those of an uninterrupted run.
public struct Run {
    public let config: RunConfig
    public let outputDir: String?
    public let checkpoint: CheckpointPolicy?

    public init(config: RunConfig, outputDir: String?, checkpoint: CheckpointPolicy? = nil) {
        self.config = config
        self.outputDir = outputDir
        self.checkpoint = checkpoint
    }

    public static let avgDistSamples = 200

    public func execute(_ data: RunData, observer: TrainObserver = SilentObserver()) throws -> RunResult {
        var result = RunResult()
        let seed = UInt64(config.seed)
        let root = PRNG(seed: seed)

        var avgRNG = root.fork("avgdist")
        // Nothing masked (MaskAlign's 0% row): AvgDist's own convention for such a mask is 0.
        let stats = config.mask.ratio == 0 ? nil : try AvgDist.estimate(config.maskSpec, samples: Run.avgDistSamples, rng: &avgRNG)
        result["avgdist"] = stats?.mean ?? 0
        result["avgdist_rel"] = stats?.meanRel ?? 0

        // Pre-train (or not): the encoder every later phase starts from.
        let recipe = try Methods.recipe(config)
        let model = try recipe.make(config, data: data)
        var initRNG = root.fork("init")
        model.initialize(&initRNG)
        if let maskAlign = model as? MaskAlign, config.pretrain.epochs > 0, config.pretrained == nil {
            let used = UsedMaskAvgDist.measure(maskAlign, data: data.pretrain, spec: config.maskSpec, seed: seed, samples: Run.avgDistSamples)
            result["avgdist"] = used.mean
            result["avgdist_rel"] = used.meanRel
        }
        if config.pretrained != nil {
            try PretrainedCheckpoint.load(into: model, config: config)
        } else if config.pretrain.epochs > 0 {
            let cpu0 = CPUTime.process()
            let r = try Pretrainer(phase: config.pretrain, seed: seed)
                .run(model, data: data.pretrain, observer: observer, checkpoint: checkpoint, config: config.canonicalJSON())
            // Only when it happened, so the keys of an ordinary run stay as they were.
            if let from = r.resumedFrom { result["pretrain.resumed_from"] = Double(from) }
            result["pretrain.loss"] = r.finalLoss
            result["pretrain.steps"] = Double(r.steps)
            result["pretrain.seconds"] = r.seconds
            result["pretrain.gflop"] = r.gflop
            // A resumed run's earlier slices ran in other processes: their CPU time is unknown.
            if r.resumedFrom == nil { result["pretrain.cpu_seconds"] = CPUTime.process() - cpu0 }
            if let dir = outputDir {
                var meta = ["format": "mimlab-checkpoint-v1", "config": config.canonicalJSON(), "phase": "pretrain"]
                meta["steps"] = String(r.steps)
                try SafetensorsFile(tensors: model.stateDict, metadata: meta)
                    .write(to: (dir as NSString).appendingPathComponent("pretrain.safetensors"))
            }
        }

        let pool = recipe.pool(config)
        if config.linprobe.epochs > 0 {
            let cpu0 = CPUTime.process()
            let r = LinearProbe(phase: config.linprobe, seed: seed)
                .run(model.backbone, pool: pool, train: data.probeTrain, test: data.test, classes: data.classes, observer: observer)
            result["linprobe.top1"] = r.top1
            result["linprobe.train_top1"] = r.trainTop1
            result["linprobe.seconds"] = r.seconds
            result["linprobe.gflop"] = r.gflop
            result["linprobe.cpu_seconds"] = CPUTime.process() - cpu0
        }

        if config.finetune.epochs > 0 {
            let cpu0 = CPUTime.process()
            let ft = FineTuneModel(encoder: model.backbone, classes: data.classes, pool: pool)
            try ft.loadEncoder(model.backbone.stateDict)
            var headRNG = root.fork("cls_head")
            headRNG.fillTruncatedNormal(ft.head.fc.weight.value, std: 0.02)
            let r = try FineTuner(phase: config.finetune, seed: seed)
                .run(ft, train: data.finetune, test: data.test, observer: observer)
            result["finetune.top1"] = r.top1
            result["finetune.loss"] = r.finalLoss
            result["finetune.seconds"] = r.seconds
            result["finetune.gflop"] = r.gflop
            result["finetune.cpu_seconds"] = CPUTime.process() - cpu0
        }

        if let dir = outputDir {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            // A diverged value is a result to keep, not a reason to lose the run's file.
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let doc = ResultsDocument(config: config, results: result.values)
            try AtomicFile.write(try enc.encode(doc), to: (dir as NSString).appendingPathComponent("results.json"))
        }
        return result
    }
}

struct ResultsDocument: Codable {
    var config: RunConfig
    var results: [String: Double]
}
