import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

final class TrainingTests: XCTestCase {
    /// Smooth, low-frequency images, like normalised natural images whose energy sits at low
    /// frequencies: a per-channel offset plus a few random 2-D cosines.
    static func smoothImages(batch: Int, size: Int, seed: UInt64, waves: Int = 3, maxFreq: Float = 3,
                             offset: Float = 0) -> Tensor {
        var rng = PRNG(seed: seed)
        let t = Tensor(shape: [batch, 3, size, size])
        for b in 0..<batch {
            for c in 0..<3 {
                let dc = rng.normal(std: offset)
                let waves = (0..<waves).map { _ in (rng.uniform(0, maxFreq), rng.uniform(0, maxFreq), rng.uniform(0, 6.3), rng.normal(std: 0.6)) }
                for y in 0..<size { for x in 0..<size {
                    var v = dc
                    for (fx, fy, ph, a) in waves {
                        v += a * cos(2 * .pi * (fx * Float(x) + fy * Float(y)) / Float(size) + ph)
                    }
                    t[((b * 3 + c) * size + y) * size + x] = v
                } }
            }
        }
        return t
    }

    /// The official random generator on the token grid, for tests that need masks.
    static func randomMask(batch: Int, config c: ViTConfig, maskedPatch: Int, ratio: Double, rng: inout PRNG) -> [Float] {
        let scale = maskedPatch / c.patchSize, side = c.imageSize / maskedPatch, g = c.grid
        let count = Int((ratio * Double(side * side)).rounded(.up))
        var mask = [Float](repeating: 0, count: batch * g * g)
        for b in 0..<batch {
            for idx in rng.permutation(side * side).prefix(count) {
                for di in 0..<scale { for dj in 0..<scale {
                    mask[b * g * g + ((idx / side) * scale + di) * g + (idx % side) * scale + dj] = 1
                } }
            }
        }
        return mask
    }

    func testSimMIMLossGradients() {
        let cfg = ViTConfig(imageSize: 8, patchSize: 4, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)
        let model = SimMIM(cfg)
        var rng = PRNG(seed: 11)
        for p in model.parameters { rng.fillNormal(p.value, std: 0.3) }
        let images = Tensor(shape: [2, 3, 8, 8]); rng.fillNormal(images, std: 1)
        let mask: [Float] = [1, 0, 1, 0, 0, 1, 1, 1]
        // L1 has kinks: a residual that crosses zero within ±h moves the difference quotient
        // by about 1/Σmask, so the step is small and tiny entries get an absolute floor.
        var check = GradientCheck(step: 1e-3, tolerance: 5e-2)
        check.floor = 1e-3
        let r = check.run(
            parameters: model.parameters,
            loss: { model.forward(images, mask: mask, batch: 2) }, backward: { model.backward() })
        XCTAssert(r.mismatches.isEmpty, "\(r.mismatches.prefix(5))")
        XCTAssertGreaterThan(r.checked, 50)
    }

    /// Only masked pixels count: changing visible pixels of the target leaves the loss alone.
    func testMaskedL1IgnoresVisiblePixels() {
        let cfg = ViTConfig(imageSize: 8, patchSize: 4, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)
        let model = SimMIM(cfg)
        var rng = PRNG(seed: 12)
        for p in model.parameters { rng.fillNormal(p.value, std: 0.3) }
        let images = Tensor(shape: [1, 3, 8, 8]); rng.fillNormal(images, std: 1)
        let mask: [Float] = [1, 0, 0, 0]     // only the top-left 4×4 patch is masked
        let before = model.forward(images, mask: mask, batch: 1)
        // Changing a visible pixel changes the encoder input, hence the prediction; so compare
        // against the loss computed directly from the prediction with another target.
        let pred = model.prediction.clone(), target = model.encoder.patchEmbed.patches.clone()
        let g = Tensor(shape: [0])
        for k in 0..<48 { target[48 + k] += 5 }   // token 1 is visible
        let after = SimMIM.maskedL1(pred: pred, target: target, mask: mask, pixelsPerToken: 16, channels: 3, grad: g)
        XCTAssertEqual(before, after, accuracy: 1e-6)
        target[0] += 5                             // token 0 is masked
        XCTAssertNotEqual(before, SimMIM.maskedL1(pred: pred, target: target, mask: mask, pixelsPerToken: 16, channels: 3, grad: g))
        XCTAssert((48..<192).allSatisfy { g[$0] == 0 })
    }

    func testFineTuneLossGradients() {
        let cfg = ViTConfig(imageSize: 8, patchSize: 4, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)
        let model = FineTuneModel(cfg, classes: 4)
        model.labelSmoothing = 0.1
        var rng = PRNG(seed: 13)
        for p in model.parameters { rng.fillNormal(p.value, std: 0.3) }
        let images = Tensor(shape: [3, 3, 8, 8]); rng.fillNormal(images, std: 1)
        let labels: [Int32] = [0, 3, 1]
        var loss = 0.0
        let r = GradientCheck().run(
            parameters: model.parameters.filter { $0.name != "encoder.mask_token" },
            loss: { model.zeroGrad(); loss = model.forwardBackward(images, labels: labels, batch: 3).0; return loss },
            backward: {})
        XCTAssert(r.mismatches.isEmpty, "\(r.mismatches.prefix(5))")
    }

    /// A short pre-training run from a seed: initialisation, data, masks and AdamW all
    /// derive from it.
    static func pretrain(seed: UInt64, steps: Int, config: ViTConfig, batch: Int) -> [String: [UInt32]] {
        let rng = PRNG(seed: seed)
        let model = SimMIM(config)
        var initRNG = rng.fork("init")
        model.initialize(&initRNG)
        let opt = AdamW(model.parameters, weightDecay: 0.05)
        let schedule = WarmupCosine(base: 1e-3, minimum: 1e-5, warmupSteps: 5, totalSteps: steps)
        var maskRNG = rng.fork("mask")
        for s in 0..<steps {
            let images = smoothImages(batch: batch, size: config.imageSize, seed: seed &+ UInt64(s))
            let mask = randomMask(batch: batch, config: config, maskedPatch: 8, ratio: 0.6, rng: &maskRNG)
            model.zeroGrad()
            _ = model.forwardBackward(images, mask: mask, batch: batch)
            clipGradNorm(model.parameters, maxNorm: 5)
            opt.update(lr: Float(schedule.lr(at: s)))
        }
        return Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.array.map(\.bitPattern)) })
    }

    func testSameSeedGivesBitIdenticalParametersAfter20Steps() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        let a = Self.pretrain(seed: 5, steps: 20, config: .micro, batch: 16)
        let b = Self.pretrain(seed: 5, steps: 20, config: .micro, batch: 16)
        XCTAssertEqual(a.count, ViTEncoder(.micro).parameters.count + 3)
        for (name, bits) in a { XCTAssert(bits == b[name]!, "\(name) differs between two runs with the same seed") }
        // And a different seed gives different parameters (the comparison can fail).
        let c = Self.pretrain(seed: 6, steps: 20, config: .micro, batch: 16)
        XCTAssertNotEqual(a["encoder.blocks.0.attn.qkv.weight"], c["encoder.blocks.0.attn.qkv.weight"])
    }

    /// 200 AdamW steps on one fixed batch of 16 images and one fixed mask (64 images took
    /// the longest of any test, 6 min on a loaded CI machine, to show the same thing).
    ///
    /// The batch is low-frequency (a per-image colour plus one slow cosine per channel, the
    /// bulk of a normalised natural image's energy). Measured: −87% here (−84% with 64
    /// images); on the busier three-cosine batch of 64 mimlab reaches −44% and the oracle's
    /// PyTorch model −40% with the same data, mask and optimiser, so how far 200 steps get
    /// depends on the batch, not the implementation. The bound below fails for any broken
    /// gradient or update.
    func testOverfitsOneBatch() {
        let cfg = ViTConfig.micro
        let batch = 16
        var rng = PRNG(seed: 21)
        let model = SimMIM(cfg)
        model.initialize(&rng)
        let images = Self.smoothImages(batch: batch, size: cfg.imageSize, seed: 99, waves: 1, maxFreq: 1, offset: 1)
        let mask = Self.randomMask(batch: batch, config: cfg, maskedPatch: 8, ratio: 0.6, rng: &rng)
        let opt = AdamW(model.parameters, weightDecay: 0.05)
        let schedule = WarmupCosine(base: 1e-3, minimum: 1e-4, warmupSteps: 10, totalSteps: 200)
        var first = 0.0
        for s in 0..<200 {
            model.zeroGrad()
            let loss = model.forwardBackward(images, mask: mask, batch: batch)
            if s == 0 { first = loss }
            XCTAssert(loss.isFinite)
            clipGradNorm(model.parameters, maxNorm: 5)
            opt.update(lr: Float(schedule.lr(at: s)))
        }
        let last = model.forward(images, mask: mask, batch: batch)
        print("overfit one batch: loss \(first) -> \(last) (\(String(format: "%.1f", 100 * (1 - last / first)))% lower)")
        XCTAssertLessThanOrEqual(last, 0.25 * first, "loss \(first) -> \(last)")
    }
}
