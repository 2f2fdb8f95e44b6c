import MIM
import NN
import Tensor
import XCTest

/// MaskAlign's layers against finite differences (loss = Σ y ⊙ r, as `LayerGradientTests`),
/// its loss against hand values, attentive masking against its sampling law, and one whole
/// step's gradients.
final class MaskAlignTests: XCTestCase {
    var rng = PRNG(seed: 23)

    func random(_ shape: [Int], std: Float = 1) -> Tensor {
        let t = Tensor(shape: shape)
        rng.fillNormal(t, std: std)
        return t
    }

    func testDynamicAlignmentStartsAtIdentityOnTheLastLevels() {
        let a = DynamicAlignment(teacherLevels: 2, studentLevels: 4)
        XCTAssertEqual(a.weights.value.array.map { Double($0) }, [0.01, 0.01, 1.01, 0.01, 0.01, 0.01, 0.01, 1.01].map { Double(Float($0)) })
        XCTAssertFalse(a.weights.weightDecay)
        let square = DynamicAlignment(teacherLevels: 3, studentLevels: 3)
        for t in 0..<3 { for s in 0..<3 { XCTAssertEqual(square.weights.value[t * 3 + s], t == s ? 1.01 : 0.01) } }
    }

    func testDynamicAlignmentGradients() {
        let a = DynamicAlignment(teacherLevels: 4, studentLevels: 3)
        rng.fillNormal(a.weights.value, std: 0.5)
        let levels = (0..<3).map { _ in random([5, 6]) }
        let rs = (0..<2).map { _ in random([5, 6]) }
        let wanted = [1, 3]
        var dx: [Tensor] = []
        assertPasses(GradientCheck().run(parameters: a.parameters,
            inputs: levels.indices.map { i in ("level\(i)", levels[i], { dx[i] }) },
            loss: { zip(a.forward(levels, rows: wanted), rs).reduce(0.0) { $0 + GradientCheck.project($1.0, $1.1) } },
            backward: { dx = a.backward(rs).map { $0.clone() } }))
    }

    func testEveryAdapterGradients() {
        for kind in AdapterKind.allCases {
            let ad = MaskAlignAdapter("distill_heads.2", kind: kind, dim: 8, targetDim: 5, eps: 1e-6)
            for p in ad.parameters { rng.fillNormal(p.value, std: 0.4) }
            let x = random([6, 8]), r = random([6, 5])
            var dx = Tensor(shape: [0])
            assertPasses(GradientCheck().run(parameters: ad.parameters, inputs: [("x", x, { dx })],
                                             loss: { GradientCheck.project(ad.forward(x), r) },
                                             backward: { dx = ad.backward(r).clone() }))
        }
        XCTAssertEqual(MaskAlignAdapter("distill_heads.4", kind: .normLinear, dim: 8, targetDim: 5, eps: 1e-6).parameters.map(\.name),
                       ["distill_heads.4.0.weight", "distill_heads.4.0.bias", "distill_heads.4.1.weight", "distill_heads.4.1.bias"])
    }

    /// 2 · smooth-L1 (β = 1), mean over the counted rows' elements: d = 0.5 gives 0.25,
    /// d = 3 gives 5; a row of weight 0 is neither summed nor counted.
    func testFeatureAlignmentLossValues() {
        let loss = FeatureAlignmentLoss(), g = Tensor(shape: [0])
        let pred = Tensor(shape: [3, 2], values: [0.5, 3, 100, -100, 0, -3])
        let target = Tensor(shape: [3, 2], values: [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(loss.forward(pred: pred, patches: target, weights: [1, 0, 1], grad: g), (0.25 + 5 + 0 + 5) / 4, accuracy: 1e-9)
        XCTAssertEqual(g.array, [0.5, 1, 0, 0, 0, -1].map { 2 * $0 / 4 })
    }

    func testFeatureAlignmentLossGradient() {
        let loss = FeatureAlignmentLoss(), g = Tensor(shape: [0])
        let pred = random([4, 5], std: 1.5), target = random([4, 5])
        let weights: [Float] = [0, 1, 1, 1]
        assertPasses(GradientCheck(step: 1e-3).run(parameters: [], inputs: [("pred", pred, { g })],
            loss: { loss.forward(pred: pred, patches: target, weights: weights, grad: Tensor(shape: [0])) },
            backward: { _ = loss.forward(pred: pred, patches: target, weights: weights, grad: g) }))
    }

    func testWhitenIsLayerNormWithoutAffine() {
        let x = Tensor(shape: [2, 4], values: [1, 2, 3, 4, -2, 0, 0, 2]), out = Tensor(shape: [0])
        FeatureAlignmentLoss.whiten(x, dim: 4, into: out)
        let s1 = (1.25 + 1e-5).squareRoot(), s2 = (2.0 + 1e-5).squareRoot()
        let expected = [-1.5 / s1, -0.5 / s1, 0.5 / s1, 1.5 / s1, -2 / s2, 0, 0, 2 / s2]
        for i in 0..<8 { XCTAssertEqual(Double(out[i]), expected[i], accuracy: 1e-6) }
    }

    /// Without a class token, a patch's importance is the attention it receives, averaged
    /// over heads and query tokens; with one, the class token's row.
    func testImportanceFromAttention() {
        let (H, S) = (2, 3)
        let a = Tensor(shape: [1, H, S, S], values: (0..<(H * S * S)).map { Float($0) })
        let none = AttentiveMasking.importance(attention: a, batch: 1, heads: H, prefix: 0)
        for l in 0..<S {
            var sum = 0
            for h in 0..<H { for q in 0..<S { sum += h * S * S + q * S + l } }
            let mean = Float(sum) / Float(H * S)
            XCTAssertEqual(none[l], mean, accuracy: 1e-5)
        }
        XCTAssertEqual(AttentiveMasking.importance(attention: a, batch: 1, heads: H, prefix: 1), [(1 + 10) / 2, (2 + 11) / 2])
    }

    /// The exponential race is sampling without replacement: the first patch kept is patch
    /// i with probability p_i / Σ p.
    func testAttentiveMaskingSamplesByImportance() {
        let p: [Float] = [0.1, 0.2, 0.3, 0.4], n = 20_000
        var counts = [0, 0, 0, 0]
        var r = PRNG(seed: 5)
        for _ in 0..<n {
            let q = AttentiveMasking.drawNoise(count: 4, &r)
            counts[Int(AttentiveMasking.masking(importance: p, noise: q, batch: 1, kept: 1).idsKeep[0])] += 1
        }
        for i in 0..<4 { XCTAssertEqual(Double(counts[i]) / Double(n), Double(p[i]), accuracy: 0.015, "patch \(i)") }
    }

    /// A whole step on a tiny student and teacher: every parameter kind's gradient against
    /// finite differences of the loss, under fixed masks (the teacher does not move, so the
    /// attentive mask is the same at every evaluation).
    func testWholeStepGradients() throws {
        for (alignment, masking, cls) in [(AlignmentStrategy.dynamic, MaskAlignMasking.attentive, true),
                                          (.layerwise, .random, false)] {
            let vit = ViTConfig(imageSize: 8, patchSize: 2, dim: 8, depth: 2, heads: 2)
            let tvit = ViTConfig(imageSize: 8, patchSize: 2, dim: 12, depth: 3, heads: 2)
            let tenc = ViTEncoder(tvit, options: ViTOptions(classToken: cls, position: .learned))
            for p in tenc.parameters { rng.fillNormal(p.value, std: 0.3) }
            var c = MaskAlignConfig()
            c.levels = 2; c.alignment = alignment; c.masking = masking; c.adapter = .linear
            let m = try MaskAlign(vit, c, teacher: MaskAlignTeacher(tenc), maskRatio: 0.5)
            var init_ = PRNG(seed: 1)
            m.initialize(&init_)
            for p in m.parameters where p.name.hasSuffix(".bias") { rng.fillNormal(p.value, std: 0.1) }
            let images = random([2, 3, 8, 8])
            var maskRNG = PRNG(seed: 2)
            m.drawMasks(batch: 2, &maskRNG)
            let checked = m.parameters.filter { p in
                ["encoder.patch_embed.weight", "encoder.cls_token", "encoder.blocks.0.attn.qkv.weight", "encoder.blocks.1.mlp.fc2.bias",
                 "distill_heads.2.weight", "distill_heads.1.bias", "distill_weights"].contains(p.name)
            }
            XCTAssertEqual(checked.count, alignment == .dynamic ? 7 : 6)
            assertPasses(GradientCheck(step: 2e-3, tolerance: 3e-2).run(parameters: checked,
                loss: { m.forward(images, batch: 2) }, backward: { m.backward() }))
        }
    }
}

/// The supervised teacher learns its labels: the loss on one batch falls under AdamW.
final class SupervisedPretrainingTests: XCTestCase {
    func testLossFallsOnAFixedBatch() throws {
        let m = try SupervisedPretraining(ViTConfig(imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2), classes: 3)
        var rng = PRNG(seed: 4)
        m.initialize(&rng)
        let images = Tensor(shape: [6, 3, 8, 8])
        rng.fillNormal(images, std: 1)
        m.setLabels([0, 1, 2, 0, 1, 2])
        let opt = AdamW(m.parameters, beta1: m.betas.0, beta2: m.betas.1, weightDecay: 0)
        var losses: [Double] = []
        for _ in 0..<40 { m.zeroGrad(); losses.append(m.step(images, batch: 6)); opt.update(lr: 1e-2) }
        XCTAssertEqual(losses[0], log(3), accuracy: 0.2)
        XCTAssertLessThan(losses.last!, 0.5 * losses[0])
        XCTAssertEqual(m.backbone.prefixTokens, 1)
    }
}
