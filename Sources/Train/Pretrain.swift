import Foundation
import MIM
import NN
import Tensor

/// Pre-training as the official loops run it, for any `PretrainMethod`: AdamW with the
/// method's betas (no decay on norms, biases and the position embedding), lr = base_lr ·
/// batch / (the method's reference batch) with per-step linear warm-up and cosine decay,
/// gradient clipping, fresh masks per image per step (the method draws them).
public struct Pretrainer {
    public var phase: RunConfig.PhaseConfig
    public var seed: UInt64

    public init(phase: RunConfig.PhaseConfig, seed: UInt64) {
        self.phase = phase
        self.seed = seed
    }

    public struct Result: Sendable {
        public var finalLoss: Double          // mean loss over the last epoch
        public var steps: Int
        public var seconds: Double            // across attempts, when resumed
        public var gflop: Double
        /// The step this attempt continued from (steps done by earlier attempts); nil when
        /// it started from scratch.
        public var resumedFrom: Int? = nil
        /// Why a saved state was found but not used (the run started over); nil otherwise.
        public var ignoredState: String? = nil
    }

    public func run(_ model: any PretrainMethod, data: BatchSource, observer: TrainObserver = SilentObserver()) throws -> Result {
        try run(model, data: data, observer: observer, checkpoint: nil, config: "")
    }

    /// As `run`, resumable: continues from the state at `checkpoint.path` when it was saved
    /// for the same `config` (the run's canonical JSON), else starts over; saves the state as
    /// the policy says and throws `TrainingStopped` when it asks to stop.
    public func run(_ model: any PretrainMethod, data: BatchSource, observer: TrainObserver = SilentObserver(),
                    checkpoint: CheckpointPolicy?, config: String) throws -> Result {
        let perEpoch = data.batchesPerEpoch
        let total = phase.epochs * perEpoch
        let sched = phase.schedule(stepsPerEpoch: perEpoch, referenceBatch: model.referenceBatch)
        let (beta1, beta2) = model.betas
        let opt = AdamW(model.parameters, beta1: beta1, beta2: beta2, weightDecay: Float(phase.weightDecay))
        var maskRNG = PRNG(seed: seed).fork("mask")
        let B = data.batchSize
        let images = Tensor(shape: [0])
        let flopsPerImage = model.flopsPerImage.train
        observer.phaseStarted("pretrain", totalSteps: total)
        let start = Clock.now()
        var losses: [Double] = []              // per step: what a resumed attempt replays
        var secondsBefore = 0.0, resumedFrom: Int? = nil, ignoredState: String? = nil
        if let policy = checkpoint {
            switch PretrainState.read(policy.path, config: config, totalSteps: total, model: model) {
            case .missing: break
            case .unusable(let reason):
                ignoredState = reason
                observer.checkpointIgnored("pretrain", path: policy.path, reason: reason)
            case .usable(let state):
                try state.restore(into: model, optimizer: opt)
                maskRNG = PRNG(state: state.maskRNG)
                losses = state.losses
                secondsBefore = state.seconds
                resumedFrom = state.step
                observer.phaseResumed("pretrain", step: state.step, path: policy.path)
            }
        }
        var epochLoss = 0.0, lastEpochLoss = Double.nan
        // Replays the earlier attempts' history: the same calls, and the same sums in the same
        // order, as when those steps ran.
        for (i, loss) in losses.enumerated() {
            epochLoss += loss
            observer.stepFinished("pretrain", step: i + 1, loss: loss, lr: sched.lr(at: i), imagesPerSecond: 0)
            if (i + 1) % perEpoch == 0 {
                lastEpochLoss = epochLoss / Double(perEpoch)
                observer.metric("pretrain", step: (i + 1) / perEpoch, name: "loss", value: lastEpochLoss)
                epochLoss = 0
            }
        }
        var step = losses.count, lastSave = start
        while step < total {
            let epoch = step / perEpoch, index = step % perEpoch
            let t0 = Clock.now()
            model.setLabels(data.fill(epoch: epoch, index: index, images: images))
            let b = images.shape[0]
            model.drawMasks(batch: b, &maskRNG)
            let lr = sched.lr(at: step)
            model.zeroGrad()
            let loss = model.step(images, batch: b)
            guard loss.isFinite else { throw DivergenceError(phase: "pretrain", step: step + 1, loss: loss) }
            if phase.clipGrad > 0 { clipGradNorm(model.parameters, maxNorm: Float(phase.clipGrad)) }
            opt.update(lr: Float(lr))
            step += 1
            epochLoss += loss
            losses.append(loss)
            observer.stepFinished("pretrain", step: step, loss: loss, lr: lr,
                                  imagesPerSecond: Double(b) / (Clock.now() - t0))
            if index == perEpoch - 1 {
                lastEpochLoss = epochLoss / Double(perEpoch)
                observer.metric("pretrain", step: epoch + 1, name: "loss", value: lastEpochLoss)
                epochLoss = 0
            }
            guard let policy = checkpoint else { continue }
            let stop = policy.shouldStop(), now = Clock.now()
            // The finished phase is saved too: an attempt killed in a later phase skips this one.
            if stop || step == total || (policy.everySteps > 0 && step % policy.everySteps == 0)
                || policy.everySeconds.map({ now - lastSave >= $0 }) == true {
                try PretrainState(config: config, step: step, totalSteps: total, seconds: secondsBefore + now - start,
                                  losses: losses, maskRNG: maskRNG.state, parameters: model.stateDict,
                                  moments: opt.state, optimizerStep: opt.step).write(to: policy.path)
                lastSave = Clock.now()
            }
            if stop { throw TrainingStopped(phase: "pretrain", step: step, totalSteps: total, path: policy.path) }
        }
        let seconds = secondsBefore + Clock.now() - start
        observer.phaseFinished("pretrain", seconds: seconds)
        return Result(finalLoss: lastEpochLoss, steps: step, seconds: seconds,
                      gflop: flopsPerImage * Double(step * B) / 1e9, resumedFrom: resumedFrom, ignoredState: ignoredState)
    }
}
