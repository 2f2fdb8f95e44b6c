import Foundation
import MIM
import NN
import Tensor

/// SimMIM pre-training as the official loop runs it: AdamW (no decay on norms, biases and
/// the position embedding), lr = base_lr · batch / 512 with per-step linear warm-up and
/// cosine decay, gradient clipping, a fresh mask per image per step.
public struct Pretrainer {
    public var phase: RunConfig.PhaseConfig
    public var maskSpec: MaskSpec
    public var seed: UInt64

    public init(phase: RunConfig.PhaseConfig, maskSpec: MaskSpec, seed: UInt64) {
        self.phase = phase
        self.maskSpec = maskSpec
        self.seed = seed
    }

    public struct Result: Sendable {
        public var finalLoss: Double          // mean loss over the last epoch
        public var steps: Int
        public var seconds: Double
        public var gflop: Double
    }

    public func run(_ model: SimMIM, data: BatchSource, observer: TrainObserver = SilentObserver()) throws -> Result {
        let perEpoch = data.batchesPerEpoch
        let total = phase.epochs * perEpoch
        let sched = phase.schedule(stepsPerEpoch: perEpoch)
        let opt = AdamW(model.parameters, weightDecay: Float(phase.weightDecay))
        var generator = try MaskGenerator(maskSpec)
        var maskRNG = PRNG(seed: seed).fork("mask")
        let B = data.batchSize, L = model.config.tokens
        let images = Tensor(shape: [0])
        var mask = [Float](repeating: 0, count: B * L)
        let flopsPerImage = Bench.flopsPerImage(model.config, pretrain: true).train
        observer.phaseStarted("pretrain", totalSteps: total)
        let start = Clock.now()
        var step = 0, epochLoss = 0.0, lastEpochLoss = Double.nan
        for epoch in 0..<phase.epochs {
            epochLoss = 0
            for index in 0..<perEpoch {
                let t0 = Clock.now()
                _ = data.fill(epoch: epoch, index: index, images: images)
                let b = images.shape[0]
                if mask.count != b * L { mask = [Float](repeating: 0, count: b * L) }
                mask.withUnsafeMutableBufferPointer { generator.fill($0.baseAddress!, batch: b, &maskRNG) }
                let lr = sched.lr(at: step)
                model.zeroGrad()
                let loss = model.forwardBackward(images, mask: mask, batch: b)
                guard loss.isFinite else { throw DivergenceError(phase: "pretrain", step: step + 1, loss: loss) }
                if phase.clipGrad > 0 { clipGradNorm(model.parameters, maxNorm: Float(phase.clipGrad)) }
                opt.update(lr: Float(lr))
                step += 1
                epochLoss += loss
                observer.stepFinished("pretrain", step: step, loss: loss, lr: lr,
                                      imagesPerSecond: Double(b) / (Clock.now() - t0))
            }
            lastEpochLoss = epochLoss / Double(perEpoch)
            observer.metric("pretrain", step: epoch + 1, name: "loss", value: lastEpochLoss)
        }
        let seconds = Clock.now() - start
        observer.phaseFinished("pretrain", seconds: seconds)
        return Result(finalLoss: lastEpochLoss, steps: step, seconds: seconds,
                      gflop: flopsPerImage * Double(step * B) / 1e9)
    }
}
