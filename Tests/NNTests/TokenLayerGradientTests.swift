import NN
import Tensor
import XCTest

/// Finite-difference tests of the layers MAE added: the token gather/scatter, the encoder on
/// a subset of tokens with a class token and the fixed sin-cos position, class-token and
/// mean pooling with a class token, and gradients injected at an intermediate block.
final class TokenLayerGradientTests: XCTestCase {
    var rng = PRNG(seed: 43)

    func random(_ shape: [Int], std: Float = 1) -> Tensor { rng.tensor(shape, std: std) }

    func testTokenGatherWithFillAndRepeats() {
        let layer = TokenGather(fillName: "decoder.mask_token", dim: 5)
        rng.fillNormal(layer.fill!.value, std: 1)
        let B = 2, n = 3
        let x = random([B * n, 5])
        // Image 0: a permutation with two fills; image 1: a repeated row (gradients add).
        let index: [Int32] = [2, -1, 0, -1, 1, 1, 1, 0, -1, 2]
        let r = random([index.count, 5])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.backward(r) })],
            loss: { GradientCheck.project(layer.forward(x, batch: B, index: index), r) },
            backward: { layer.backward(r) }))
        let y = layer.forward(x, batch: B, index: index)
        XCTAssertEqual(Array(y.array[0..<5]), Array(x.array[10..<15]))      // row 0 ← x[0, 2]
        XCTAssertEqual(Array(y.array[5..<10]), layer.fill!.value.array)
    }

    /// MAE's encoder path: the kept tokens in noise order, the class token first.
    func testEncoderOnASubsetWithClassToken() {
        let cfg = ViTConfig(imageSize: 8, patchSize: 2, channels: 3, dim: 8, depth: 2, heads: 2, mlpRatio: 2)
        let enc = ViTEncoder(cfg, options: .mae)
        for p in enc.parameters { rng.fillNormal(p.value, std: 0.3) }
        XCTAssertEqual(enc.parameters.map(\.name).filter { $0.contains("token") || $0.contains("pos") }, ["encoder.cls_token"])
        let B = 2, K = 5
        let images = random([B, 3, 8, 8])
        let keep: [Int32] = [3, 0, 15, 7, 9, 12, 1, 2, 3, 4]
        let r = random([B * (1 + K), 8])
        var none: PRNG? = nil
        assertPasses(GradientCheck().run(
            parameters: enc.parameters,
            loss: { GradientCheck.project(enc.encode(enc.embed(images, batch: B), batch: B, keep: keep, rng: &none), r) },
            backward: { enc.backwardEmbedding(enc.backward(r)) }))
        // Row 1 of image 0 is token 3's embedding plus its sin-cos position.
        _ = enc.encode(enc.embed(images, batch: B), batch: B, keep: keep, rng: &none)
        let e = enc.patchEmbed.proj.output, pos = enc.fixedPosition!
        for d in 0..<8 { XCTAssertEqual(enc.tokens[8 + d], e[3 * 8 + d] + pos[3 * 8 + d]) }
        XCTAssertEqual(Array(enc.tokens.array[0..<8]), enc.clsToken!.value.array)
    }

    /// A gradient handed in at block 0's output reaches every earlier parameter.
    func testGradientInjectedAtAnIntermediateBlock() {
        let cfg = ViTConfig(imageSize: 4, patchSize: 2, channels: 3, dim: 8, depth: 2, heads: 2, mlpRatio: 2)
        let enc = ViTEncoder(cfg)
        for p in enc.parameters { rng.fillNormal(p.value, std: 0.3) }
        let B = 2, images = random([B, 3, 4, 4])
        let r = random([B * 4, 8]), r0 = random([B * 4, 8])
        var none: PRNG? = nil
        assertPasses(GradientCheck().run(
            parameters: enc.parameters,
            loss: {
                let z = enc.forward(images, batch: B, rng: &none)
                return GradientCheck.project(z, r) + GradientCheck.project(enc.features(ofBlock: 0), r0)
            },
            backward: { enc.addGradient(r0, atBlock: 0); enc.backwardAll(r) }))
    }

    func testPoolingWithAClassToken() {
        let (B, S, D, K) = (3, 5, 6, 4)
        for pool in TokenPool.allCases {
            let head = ClassifierHead(dim: D, classes: K, layerID: 0, pool: pool, prefixTokens: 1)
            for p in head.parameters { rng.fillNormal(p.value, std: 0.3) }
            let z = random([B * S, D])
            let labels: [Int32] = [0, 3, 1]
            let grad = Tensor(shape: [0])
            assertPasses(GradientCheck().run(
                parameters: head.parameters, inputs: [("z", z, { head.gradInput })],
                loss: { CrossEntropy.forwardBackward(logits: head.forward(z, batch: B, tokens: S), labels: labels, grad: grad) },
                backward: { head.backward(grad) }))
            // The class token is the feature (cls) or left out of the mean (mean).
            _ = head.forward(z, batch: B, tokens: S)
            if pool == .cls { XCTAssertEqual(Array(head.pooled.array[0..<D]), Array(z.array[0..<D])) }
            else {
                let m = (1..<S).map { Double(z[$0 * D]) }.reduce(0, +) / Double(S - 1)
                XCTAssertEqual(Double(head.pooled[0]), m, accuracy: 1e-5)
            }
        }
    }

    /// The official table's layout: the column index fills the first half.
    func testSinCosTable() {
        let t = SinCosPosition.table(dim: 8, grid: 3)
        // Token (i = 1, j = 2): [sin(2ω), cos(2ω), sin(1ω), cos(1ω)] with ω = (1, 0.01).
        let row = Array(t.array[(1 * 3 + 2) * 8 ..< (1 * 3 + 2) * 8 + 8])
        let expect: [Double] = [sin(2), sin(0.02), cos(2), cos(0.02), sin(1), sin(0.01), cos(1), cos(0.01)]
        for (a, b) in zip(row, expect) { XCTAssertEqual(Double(a), b, accuracy: 1e-7) }
    }
}
