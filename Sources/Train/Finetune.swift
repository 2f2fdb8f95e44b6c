import Foundation
import NN
import Tensor

/// End-to-end fine-tuning from a (pre-trained or freshly initialised) encoder: AdamW with
/// layer-wise lr decay, label smoothing, drop-path, warm-up + cosine per step, then Top-1
/// on the held-out split.
public struct FineTuner {
    public var phase: RunConfig.PhaseConfig
    public var seed: UInt64

    public init(phase: RunConfig.PhaseConfig, seed: UInt64) {
        self.phase = phase
        self.seed = seed
    }

    public struct Result: Sendable {
        public var top1: Double               // percent, held-out split
        public var finalLoss: Double
        public var steps: Int
        public var seconds: Double
        public var gflop: Double
    }

    public func run(_ model: FineTuneModel, train: BatchSource, test: EvaluationSource,
                    observer: TrainObserver = SilentObserver()) throws -> Result {
        let perEpoch = train.batchesPerEpoch
        let total = phase.epochs * perEpoch
        let sched = phase.schedule(stepsPerEpoch: perEpoch)
        model.labelSmoothing = Float(phase.labelSmoothing)
        model.encoder.setDropPath(Float(phase.dropPath))
        let params = model.parameters
        let opt = AdamW(params, weightDecay: Float(phase.weightDecay))
        if phase.layerDecay < 1 { opt.setLayerDecay(Float(phase.layerDecay), layers: model.encoder.layerCount + 2) }
        let dropRNG = PRNG(seed: seed).fork("drop-path")
        let images = Tensor(shape: [0])
        let flops = model.flopsPerImage.train
        observer.phaseStarted("finetune", totalSteps: total)
        let start = Clock.now()
        var step = 0, lastEpochLoss = Double.nan, seen = 0
        for epoch in 0..<phase.epochs {
            var epochLoss = 0.0
            for index in 0..<perEpoch {
                let t0 = Clock.now()
                let labels = train.fill(epoch: epoch, index: index, images: images)
                let lr = sched.lr(at: step)
                model.zeroGrad()
                let (loss, _) = model.forwardBackward(images, labels: labels, batch: labels.count,
                                                      rng: dropRNG.fork(step))
                guard loss.isFinite else { throw DivergenceError(phase: "finetune", step: step + 1, loss: loss) }
                if phase.clipGrad > 0 { clipGradNorm(params, maxNorm: Float(phase.clipGrad)) }
                opt.update(lr: Float(lr))
                step += 1
                seen += labels.count
                epochLoss += loss
                observer.stepFinished("finetune", step: step, loss: loss, lr: lr,
                                      imagesPerSecond: Double(labels.count) / (Clock.now() - t0))
            }
            lastEpochLoss = epochLoss / Double(perEpoch)
            observer.metric("finetune", step: epoch + 1, name: "loss", value: lastEpochLoss)
        }
        let top1 = Evaluation.top1(model, test, observer: observer)
        observer.metric("finetune", step: phase.epochs, name: "top1", value: top1)
        let seconds = Clock.now() - start
        observer.phaseFinished("finetune", seconds: seconds)
        let evalFlops = model.flopsPerImage.forward * Double(test.count)
        return Result(top1: top1, finalLoss: lastEpochLoss, steps: step, seconds: seconds,
                      gflop: (flops * Double(seen) + evalFlops) / 1e9)
    }
}

public enum Evaluation {
    /// Top-1 accuracy (percent) of the model on every image of `data`, drop-path off.
    public static func top1(_ model: FineTuneModel, _ data: EvaluationSource, batch: Int = EvaluationBatch.size,
                            observer: TrainObserver = SilentObserver()) -> Double {
        let images = Tensor(shape: [0])
        var correct = 0, start = 0
        while start < data.count {
            let n = min(batch, data.count - start)
            let labels = data.fill(start: start, count: n, images: images)
            var none: PRNG? = nil
            let logits = model.logits(images, batch: n, rng: &none)
            correct += CrossEntropy.correct(logits: logits, labels: labels)
            start += n
        }
        return 100 * Double(correct) / Double(max(1, data.count))
    }
}
