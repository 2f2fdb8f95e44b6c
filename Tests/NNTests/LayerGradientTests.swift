import NN
import Tensor
import XCTest

/// Finite-difference gradient tests: one per layer, each checking every parameter and the
/// input gradient. Loss = Σ y ⊙ r for a fixed random r, so d loss / d y = r.
final class LayerGradientTests: XCTestCase {
    var rng = PRNG(seed: 42)

    func random(_ shape: [Int], std: Float = 1) -> Tensor { rng.tensor(shape, std: std) }
    func randomize(_ params: [Parameter], std: Float = 0.3) { rng.randomize(params, std: std) }

    func testLinear() {
        let layer = Linear("fc", in: 7, out: 5)
        randomize(layer.parameters)
        let x = random([6, 7]), r = random([6, 5])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.gradInput })],
            loss: { GradientCheck.project(layer.forward(x), r) }, backward: { layer.backward(r) }))
    }

    func testLayerNorm() {
        let layer = LayerNorm("ln", dim: 20, eps: 1e-6)
        randomize(layer.parameters)
        let x = random([5, 20], std: 2), r = random([5, 20])
        assertPasses(GradientCheck(step: 1e-2, tolerance: 3e-2).run(
            parameters: layer.parameters, inputs: [("x", x, { layer.gradInput })],
            loss: { GradientCheck.project(layer.forward(x), r) }, backward: { layer.backward(r) }))
    }

    func testGELU() {
        let layer = GELU()
        let x = random([3, 37], std: 2), r = random([3, 37])
        assertPasses(GradientCheck().run(
            parameters: [], inputs: [("x", x, { layer.gradInput })],
            loss: { GradientCheck.project(layer.forward(x), r) }, backward: { layer.backward(r) }))
    }

    func testGELUValuesMatchErfForm() {
        let x = random([1, 1000], std: 3)
        let y = GELU().forward(x)
        for i in 0..<x.count {
            let v = Double(x[i])
            let exact = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            XCTAssertEqual(Double(y[i]), exact, accuracy: 2e-6 * max(1, abs(exact)))
        }
    }

    func testMLP() {
        let layer = MLP("mlp", dim: 6, hidden: 24)
        randomize(layer.parameters)
        let x = random([4, 6]), r = random([4, 6])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.fc1.gradInput })],
            loss: { GradientCheck.project(layer.forward(x), r) }, backward: { layer.backward(r) }))
    }

    func testAttention() {
        let (B, L, D) = (2, 5, 12)
        let layer = Attention("attn", dim: D, heads: 3)
        randomize(layer.parameters)
        let x = random([B * L, D]), r = random([B * L, D])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.qkv.gradInput })],
            loss: { GradientCheck.project(layer.forward(x, batch: B, tokens: L), r) },
            backward: { layer.backward(r) }))
    }

    func testBlock() {
        let (B, L, D) = (2, 4, 8)
        let block = Block("blk", dim: D, heads: 2, mlpHidden: 16, eps: 1e-6, layerID: 1)
        randomize(block.parameters)
        let x = random([B * L, D]), r = random([B * L, D])
        var dx: Tensor?
        var none: PRNG? = nil
        assertPasses(GradientCheck().run(
            parameters: block.parameters, inputs: [("x", x, { dx! })],
            loss: { GradientCheck.project(block.forward(x, batch: B, tokens: L, rng: &none), r) },
            backward: { dx = block.backward(r) }))
    }

    /// Drop-path: the same decisions in every forward (a fresh copy of one generator), so
    /// the loss is a smooth function of the parameters and the check applies.
    func testBlockWithDropPath() {
        let (B, L, D) = (6, 4, 8)
        let block = Block("blk", dim: D, heads: 2, mlpHidden: 16, eps: 1e-6, layerID: 1)
        block.dropPath = 0.5
        randomize(block.parameters)
        let x = random([B * L, D]), r = random([B * L, D])
        let decisions = PRNG(seed: 3)
        var dx: Tensor?
        assertPasses(GradientCheck().run(
            parameters: block.parameters, inputs: [("x", x, { dx! })],
            loss: {
                var g: PRNG? = decisions
                return GradientCheck.project(block.forward(x, batch: B, tokens: L, rng: &g), r)
            },
            backward: { dx = block.backward(r) }))
        // Some images' branches must actually have been dropped for this to test anything.
        var g: PRNG? = decisions
        let withDrop = block.forward(x, batch: B, tokens: L, rng: &g).array
        var none: PRNG? = nil
        let without = block.forward(x, batch: B, tokens: L, rng: &none).array
        XCTAssertNotEqual(withDrop, without)
    }

    func testPatchEmbed() {
        let pe = PatchEmbed("pe", imageSize: 8, patchSize: 4, channels: 3, dim: 5)
        randomize(pe.parameters)
        let images = random([2, 3, 8, 8]), r = random([2 * 4, 5])
        assertPasses(GradientCheck().run(
            parameters: pe.parameters,
            loss: { GradientCheck.project(pe.forward(images, batch: 2), r) }, backward: { pe.backward(r) }))
    }

    func testPatchEmbedIsTheConvolution() {
        // Conv2d(kernel = stride = p) written out directly, against im2col + product.
        let (C, H, p, D) = (3, 8, 4, 5)
        let pe = PatchEmbed("pe", imageSize: H, patchSize: p, channels: C, dim: D)
        randomize(pe.parameters)
        let images = random([1, C, H, H])
        let y = pe.forward(images, batch: 1)
        let w = pe.proj.weight.value, b = pe.proj.bias!.value
        let g = H / p
        for i in 0..<g { for j in 0..<g { for d in 0..<D {
            var s = Double(b[d])
            for c in 0..<C { for dy in 0..<p { for dx in 0..<p {
                s += Double(w[((d * C + c) * p + dy) * p + dx]) * Double(images[(c * H + i * p + dy) * H + j * p + dx])
            } } }
            XCTAssertEqual(Double(y[(i * g + j) * D + d]), s, accuracy: 1e-4)
        } } }
        // col2im inverts im2col.
        let back = Tensor(shape: images.shape)
        PatchEmbed.col2im(pe.patches.data, batch: 1, channels: C, imageSize: H, patchSize: p, into: back.data)
        XCTAssertEqual(back.array, images.array)
    }

    /// SimMIM's path: mask token mixed into the patch rows, then the encoder on every token.
    func testViTEncoderWithMask() {
        let cfg = ViTConfig(imageSize: 8, patchSize: 4, channels: 3, dim: 8, depth: 2, heads: 2, mlpRatio: 2)
        let enc = ViTEncoder(cfg), mix = MaskTokenMix(dim: 8)
        randomize(enc.parameters(inserting: mix.parameters))
        let B = 2, L = cfg.tokens
        let images = random([B, 3, 8, 8]), r = random([B * L, 8])
        var mask: [Float] = [1, 0, 0, 1, 0, 1, 1, 0]
        var none: PRNG? = nil
        func loss() -> Double {
            GradientCheck.project(enc.encode(mix.forward(enc.embed(images, batch: B), mask: mask), batch: B, keep: nil, rng: &none), r)
        }
        let result = GradientCheck().run(
            parameters: enc.parameters(inserting: mix.parameters), loss: loss,
            backward: { enc.backwardEmbedding(mix.backward(enc.backward(r))) })
        assertPasses(result)
        // The mask token only receives gradient through masked tokens; with none masked, zero.
        enc.zeroGrad(); mix.zeroGrad()
        mask = [Float](repeating: 0, count: B * L)
        _ = loss()
        enc.backwardEmbedding(mix.backward(enc.backward(r)))
        XCTAssertEqual(mix.token.grad.array, [Float](repeating: 0, count: 8))
    }

    func testClassifierHeadAndCrossEntropy() {
        let (B, L, D, K) = (3, 4, 6, 5)
        let head = ClassifierHead(dim: D, classes: K, layerID: 0)
        randomize(head.parameters)
        let z = random([B * L, D])
        let labels: [Int32] = [0, 3, 4]
        let grad = Tensor(shape: [0])
        for smoothing: Float in [0, 0.1] {
            assertPasses(GradientCheck().run(
                parameters: head.parameters, inputs: [("z", z, { head.gradInput })],
                loss: {
                    CrossEntropy.forwardBackward(logits: head.forward(z, batch: B, tokens: L), labels: labels,
                                                 smoothing: smoothing, grad: grad)
                },
                backward: { head.backward(grad) }))
        }
    }

    func testCrossEntropyValue() {
        let logits = Tensor(shape: [2, 3], values: [1, 2, 3, 0, 0, 0])
        let g = Tensor(shape: [0])
        let loss = CrossEntropy.forwardBackward(logits: logits, labels: [2, 0], grad: g)
        let l1 = -(3 - log(exp(1.0) + exp(2.0) + exp(3.0))), l2 = log(3.0)
        XCTAssertEqual(loss, (l1 + l2) / 2, accuracy: 1e-6)
        XCTAssertEqual(CrossEntropy.correct(logits: logits, labels: [2, 1]), 1)
    }
}
