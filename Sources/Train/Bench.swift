import Foundation
import MIM
import NN
import Tensor

/// Training-step throughput, measured the way shared/oracle/bench_simmim.py measures
/// PyTorch: one timed step = zero_grad + forward + loss + backward + clip + AdamW; data and
/// masks are made once, outside the timing; the median over the timed steps is reported.
public enum Bench {
    public struct Result: Codable, Sendable {
        public var mode: String
        public var threads: Int
        public var batch: Int
        public var stepsTimed: Int
        public var medianSeconds: Double
        public var imagesPerSecond: Double
        public var gflopPerStep: Double
        public var gflopPerSecond: Double
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Random images, official random masks (masked patch 8 or the output stride where that
    /// is larger, ratio 0.6) on the first token grid, and labels, for `batch`.
    static func inputs(imageSize: Int, channels: Int, patch: Int, outputStride: Int, tokens: Int, batch: Int,
                       seed: UInt64) -> (Tensor, [Float], [Int32]) {
        var rng = PRNG(seed: seed)
        let images = Tensor(shape: [batch, channels, imageSize, imageSize])
        rng.fillNormal(images, std: 1)
        let spec = MaskSpec(type: .random, imageSize: imageSize, modelPatchSize: patch,
                            maskedPatchSize: max(outputStride, 8), maskRatio: 0.6)
        var mask = [Float](repeating: 0, count: batch * tokens)
        if var generator = try? MaskGenerator(spec) {
            mask.withUnsafeMutableBufferPointer { generator.fill($0.baseAddress!, batch: batch, &rng) }
        }
        let labels = (0..<batch).map { _ in Int32(rng.int(10)) }
        return (images, mask, labels)
    }

    /// SimMIM's pre-training step (ViT) or the fine-tune step of its encoder.
    public static func trainStep(_ c: ViTConfig, pretrain: Bool, batch: Int, warmup: Int, steps: Int,
                                 progress: ((Int) -> Void)? = nil) -> Result {
        let (images, mask, labels) = inputs(imageSize: c.imageSize, channels: c.channels, patch: c.patchSize,
                                            outputStride: c.patchSize, tokens: c.tokens, batch: batch, seed: 0)
        return trainStep(pretrain ? nil : ViTEncoder(c), images: images, labels: labels, batch: batch, warmup: warmup,
                         steps: steps, progress: progress) { rng in
            let model = SimMIM(c)
            model.initialize(&rng)
            return (model, { _ = model.forwardBackward(images, mask: mask, batch: batch) })
        }
    }

    /// The same measurement for SimMIM on Swin and its fine-tune model.
    public static func trainStep(swin c: SwinConfig, pretrain: Bool, batch: Int, warmup: Int, steps: Int,
                                 progress: ((Int) -> Void)? = nil) -> Result {
        let (images, mask, labels) = inputs(imageSize: c.imageSize, channels: c.channels, patch: c.patchSize,
                                            outputStride: c.outputStride, tokens: c.tokens, batch: batch, seed: 0)
        return trainStep(pretrain ? nil : SwinEncoder(c), images: images, labels: labels, batch: batch, warmup: warmup,
                         steps: steps, progress: progress) { rng in
            let model = try! SimMIMSwin(c, .official)
            model.initialize(&rng)
            return (model, { _ = model.forwardBackward(images, mask: mask, batch: batch) })
        }
    }

    /// The fine-tune step of `fineTune` when given, else the pre-training step of the
    /// method `makeMethod` builds (initialised from the same seed).
    static func trainStep(_ fineTune: (any ImageEncoder)?, images: Tensor, labels: [Int32], batch: Int, warmup: Int, steps: Int,
                          progress: ((Int) -> Void)?,
                          makeMethod: (inout PRNG) -> (any PretrainMethod, () -> Void)) -> Result {
        var rng = PRNG(seed: 1)
        if let encoder = fineTune {
            return fineTuneStep(encoder, images: images, labels: labels, batch: batch, rng: &rng,
                                warmup: warmup, steps: steps, progress: progress)
        }
        let (model, forwardBackward) = makeMethod(&rng)
        return pretrainStep(model, batch: batch, warmup: warmup, steps: steps, progress: progress, forwardBackward: forwardBackward)
    }

    /// The same measurement for a token-dropping method on the same encoder: MAE (its default
    /// decoder, ratio 0.75) or MaskAlign (ratio 0.7, the official top-5 of a teacher with the
    /// student's architecture, as an MAE run's encoder is; attentive masking, so the teacher's
    /// forward pass is in every step). Masks are drawn once, outside the timing; the method's
    /// own betas, no clipping (neither official recipe clips).
    public static func methodStep(_ c: ViTConfig, method: String, batch: Int, warmup: Int, steps: Int,
                                  progress: ((Int) -> Void)? = nil) throws -> Result {
        let (images, _, _) = inputs(imageSize: c.imageSize, channels: c.channels, patch: c.patchSize,
                                    outputStride: c.patchSize, tokens: c.tokens, batch: batch, seed: 0)
        var rng = PRNG(seed: 1)
        let model: any PretrainMethod
        switch method {
        case "mae":
            model = try MAE(c, MAEConfig(), maskRatio: 0.75)
        case "maskalign":
            let teacher = ViTEncoder(c, options: .mae)
            teacher.initialize(&rng)
            var m = MaskAlignConfig()
            m.levels = min(m.levels, c.depth)
            model = try MaskAlign(c, m, teacher: MaskAlignTeacher(teacher), maskRatio: 0.7)
        default:
            throw ConfigError("bench: no method \(method)")
        }
        model.initialize(&rng)
        model.drawMasks(batch: batch, &rng)
        let (b1, b2) = model.betas
        let opt = AdamW(model.parameters, beta1: b1, beta2: b2)
        return timed(method, flops: model.flopsPerImage, batch: batch, warmup: warmup, steps: steps, progress: progress) {
            model.zeroGrad()
            _ = model.step(images, batch: batch)
            opt.update(lr: 1e-4)
        }
    }

    /// A pre-training step: forward and backward (`forwardBackward`), clip at 5, AdamW.
    static func pretrainStep(_ model: any PretrainMethod, batch: Int, warmup: Int, steps: Int, progress: ((Int) -> Void)?,
                             forwardBackward: @escaping () -> Void) -> Result {
        let opt = AdamW(model.parameters)
        return timed("pretrain", flops: model.flopsPerImage, batch: batch, warmup: warmup, steps: steps, progress: progress) {
            model.zeroGrad()
            forwardBackward()
            clipGradNorm(model.parameters, maxNorm: 5)
            opt.update(lr: 1e-4)
        }
    }

    /// A fine-tune step of `encoder` (initialised here) with a 10-class head.
    static func fineTuneStep(_ encoder: any ImageEncoder, images: Tensor, labels: [Int32], batch: Int, rng: inout PRNG,
                             warmup: Int, steps: Int, progress: ((Int) -> Void)?) -> Result {
        let model = FineTuneModel(encoder: encoder, classes: 10)
        model.encoder.initialize(&rng)
        let opt = AdamW(model.parameters)
        return timed("finetune", flops: model.flopsPerImage, batch: batch, warmup: warmup, steps: steps, progress: progress) {
            model.zeroGrad()
            _ = model.forwardBackward(images, labels: labels, batch: batch)
            opt.update(lr: 1e-4)
        }
    }

    /// Runs `step` warmup + steps times and reports the median of the timed ones.
    static func timed(_ mode: String, flops: FlopCount, batch: Int, warmup: Int, steps: Int, progress: ((Int) -> Void)?,
                      step: () -> Void) -> Result {
        var times: [Double] = []
        for i in 0..<(warmup + steps) {
            let t0 = now()
            step()
            if i >= warmup { times.append(now() - t0) }
            progress?(i + 1)
        }
        let med = median(times)
        let gflop = flops.train * Double(batch) / 1e9
        return Result(mode: mode, threads: Parallel.threads, batch: batch, stepsTimed: steps, medianSeconds: med,
                      imagesPerSecond: Double(batch) / med, gflopPerStep: gflop, gflopPerSecond: gflop / med)
    }

    /// Raw sgemm at one of the step's shapes (the MLP's fc1: [B·L, D] × [D, 4D]).
    public static func sgemm(m: Int, n: Int, k: Int, repeats: Int) -> Double {
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [n, k]), c = Tensor(shape: [m, n])
        var rng = PRNG(seed: 3)
        rng.fillNormal(a, std: 1); rng.fillNormal(b, std: 1)
        var times: [Double] = []
        for i in 0..<(repeats + 3) {
            let t0 = now()
            BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k,
                       c: c.data, ldc: n)
            if i >= 3 { times.append(now() - t0) }
        }
        return 2 * Double(m * n * k) / median(times) / 1e9
    }

    /// Peak resident set size of this process, in bytes.
    public static func peakRSS() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss * 1024
    }
}
