import NN
import Tensor
import XCTest

/// Swin's layers: the window geometry against a direct roll + partition, and a
/// finite-difference test of each layer with parameters (loss = Σ y ⊙ r, as
/// `LayerGradientTests`).
final class SwinLayerTests: XCTestCase {
    var rng = PRNG(seed: 17)

    func random(_ shape: [Int], std: Float = 1) -> Tensor { rng.tensor(shape, std: std) }
    func randomize(_ params: [Parameter], std: Float = 0.3) { rng.randomize(params, std: std) }

    /// partition = torch.roll(x, (−s, −s)) then window_partition, written out on a 2-D grid;
    /// reverse undoes it.
    func testWindowPartitionIsRollThenPartition() {
        let (B, H, W, C, ws, s) = (2, 8, 12, 3, 4, 2)
        let win = SwinWindows(height: H, width: W, window: ws, shift: s)
        let x = random([B * H * W, C])
        let out = Tensor(shape: [0]), back = Tensor(shape: [0])
        win.partition(x, batch: B, into: out)
        var k = 0
        for b in 0..<B { for wh in 0..<(H / ws) { for ww in 0..<(W / ws) { for i in 0..<ws { for j in 0..<ws {
            let r = (wh * ws + i + s) % H, c = (ww * ws + j + s) % W
            for ch in 0..<C { XCTAssertEqual(out[k * C + ch], x[((b * H + r) * W + c) * C + ch]) }
            k += 1
        } } } } }
        win.reverse(out, batch: B, into: back)
        XCTAssertEqual(back.array, x.array)
    }

    /// A grid no larger than the window is one unshifted window (timm's clamping).
    func testWindowClampsToSmallGrid() {
        let win = SwinWindows(height: 4, width: 4, window: 6, shift: 3)
        XCTAssertEqual(win.window, 4)
        XCTAssertEqual(win.shift, 0)
        XCTAssertNil(win.attentionMask())
        XCTAssertEqual(win.source, (0..<16).map(Int32.init))
    }

    /// 8×8 grid, window 4, shift 2: the top-left window holds one region (nothing masked),
    /// the top-right two regions of 8 tokens (2·8·8 pairs allowed of 256), the bottom-right
    /// four regions of 4 (4·4·4 allowed).
    func testShiftMaskRegions() {
        let win = SwinWindows(height: 8, width: 8, window: 4, shift: 2)
        let m = win.attentionMask()!
        XCTAssertEqual(m.shape, [4, 16, 16])
        func allowed(_ w: Int) -> Int { (0..<256).filter { m[w * 256 + $0] == 0 }.count }
        XCTAssertEqual(allowed(0), 256)
        XCTAssertEqual(allowed(1), 128)
        XCTAssertEqual(allowed(2), 128)
        XCTAssertEqual(allowed(3), 64)
        XCTAssertEqual(Set(m.array), [0, -100])
        // Bottom-right window: (0, 0) is from the rolled-in region of neither edge; (3, 3)
        // wrapped around in both directions.
        XCTAssertEqual(m[3 * 256 + 0 * 16 + 15], -100)
        XCTAssertEqual(m[3 * 256 + 0 * 16 + 1], 0)
    }

    /// timm's `get_relative_position_index`: the diagonal is the table's centre, and the
    /// index of (i, j) depends only on their offset.
    func testRelativePositionIndex() {
        let ws = 3, N = 9, idx = SwinWindows.relativePositionIndex(window: ws)
        for i in 0..<N { XCTAssertEqual(idx[i * N + i], Int32((ws - 1) * (2 * ws - 1) + ws - 1)) }
        XCTAssertEqual(idx[0 * N + 8], 0)                     // (0,0)−(2,2) = (−2,−2)
        XCTAssertEqual(idx[8 * N + 0], Int32((2 * ws - 1) * (2 * ws - 1) - 1))
        XCTAssertEqual(idx[1 * N + 0], Int32((ws - 1) * (2 * ws - 1) + ws))   // (0,1)−(0,0)
        XCTAssertEqual(idx[3 * N + 0], Int32(ws * (2 * ws - 1) + ws - 1))     // (1,0)−(0,0)
    }

    func testWindowAttentionWithBiasAndMask() {
        let (ws, D, heads) = (2, 8, 2)
        let win = SwinWindows(height: 4, width: 4, window: ws, shift: 1)
        let layer = WindowAttention("attn", dim: D, heads: heads, window: ws)
        randomize(layer.parameters)
        let B = 2, windows = B * win.windowsPerImage, mask = win.attentionMask()!
        let x = random([windows * ws * ws, D]), r = random([windows * ws * ws, D])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.qkv.gradInput })],
            loss: { GradientCheck.project(layer.forward(x, windows: windows, mask: mask), r) },
            backward: { layer.backward(r) }))
        // The mask must change the result (a shifted window attends across regions otherwise).
        let masked = layer.forward(x, windows: windows, mask: mask).array
        XCTAssertNotEqual(masked, layer.forward(x, windows: windows, mask: nil).array)
    }

    func testPatchMerging() {
        let (B, H, W, C) = (2, 4, 6, 3)
        let layer = PatchMerging("down", dim: C, height: H, width: W)
        randomize(layer.parameters)
        XCTAssertNil(layer.reduction.bias)
        let x = random([B * H * W, C]), r = random([B * (H / 2) * (W / 2), 2 * C])
        assertPasses(GradientCheck().run(
            parameters: layer.parameters, inputs: [("x", x, { layer.gradInput })],
            loss: { GradientCheck.project(layer.forward(x, batch: B), r) }, backward: { layer.backward(r) }))
    }

    /// timm's concatenation order x0 (2i, 2j), x1 (2i+1, 2j), x2 (2i, 2j+1), x3 (2i+1, 2j+1):
    /// with the LayerNorm at gain 1, bias 0 (x̂ ∝ x − mean) and a reduction that picks
    /// input column k, output 0 has the sign of the k-th concatenated entry minus the mean.
    func testPatchMergingOrder() {
        let (H, W, C) = (2, 2, 1)
        let layer = PatchMerging("down", dim: C, height: H, width: W)
        // x at (0,0)=1, (0,1)=2, (1,0)=3, (1,1)=4 → concatenation [1, 3, 2, 4].
        let x = Tensor(shape: [4, 1])
        for k in 0..<4 { x[k] = Float(k + 1) }
        let w = layer.reduction.weight.value
        w.zero()
        for k in 0..<4 { w[k] = Float(k == 1 ? 1 : 0) }       // picks concatenated entry 1
        let y = layer.forward(x, batch: 1)
        // Normalised entry 1 (value 3, mean 2.5) is positive: x1 = (1, 0) is the 3.
        XCTAssertGreaterThan(y[0], 0)
        for k in 0..<4 { w[k] = Float(k == 2 ? 1 : 0) }       // entry 2 = x2 = (0, 1) = 2 < mean
        XCTAssertLessThan(layer.forward(x, batch: 1)[0], 0)
    }

    func testSwinBlockShifted() { checkBlock(shift: 2, dropPath: 0) }

    func testSwinBlockUnshifted() { checkBlock(shift: 0, dropPath: 0) }

    func testSwinBlockWithDropPath() { checkBlock(shift: 2, dropPath: 0.5) }

    func checkBlock(shift: Int, dropPath: Float, file: StaticString = #filePath, line: UInt = #line) {
        let (B, H, D) = (4, 8, 8)
        let block = SwinBlock("blk", dim: D, heads: 2, height: H, width: H, window: 4, shift: shift,
                              mlpHidden: 16, layerID: 1)
        block.dropPath = dropPath
        XCTAssertEqual(block.mask == nil, shift == 0, file: file, line: line)
        randomize(block.parameters)
        let x = random([B * H * H, D]), r = random([B * H * H, D])
        let decisions = PRNG(seed: 3)
        var dx: Tensor?
        assertPasses(GradientCheck().run(
            parameters: block.parameters, inputs: [("x", x, { dx! })],
            loss: {
                var g: PRNG? = dropPath > 0 ? decisions : nil
                return GradientCheck.project(block.forward(x, batch: B, rng: &g), r)
            },
            backward: { dx = block.backward(r) }), file: file, line: line)
    }

    /// The encoder with SimMIM's mask token mixed in, every parameter and the input image.
    func testSwinEncoderWithMask() {
        checkEncoder(SwinConfig(imageSize: 16, patchSize: 2, embedDim: 8, depths: [2, 1], heads: [2, 2], window: 4))
    }

    func testSwinEncoderWithAbsolutePosition() {
        checkEncoder(SwinConfig(imageSize: 8, patchSize: 2, embedDim: 8, depths: [2, 2], heads: [1, 2], window: 2,
                                absolutePosition: true))
    }

    func checkEncoder(_ cfg: SwinConfig, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try cfg.validate(), file: file, line: line)
        let enc = SwinEncoder(cfg), mix = MaskTokenMix(dim: cfg.embedDim)
        let params = enc.parameters(inserting: mix.parameters)
        randomize(params)
        let B = 2, L = cfg.tokens
        let images = random([B, 3, cfg.imageSize, cfg.imageSize]), r = random([B * enc.outputTokens, enc.dim])
        let mask: [Float] = (0..<(B * L)).map { _ in rng.uniform() < 0.5 ? 1 : 0 }
        var none: PRNG? = nil
        // Float32 through several LayerNorms and softmaxes: 5% on the sampled entries (the
        // single layers above hold 2%).
        assertPasses(GradientCheck(step: 1e-2, tolerance: 5e-2).run(
            parameters: params,
            loss: { GradientCheck.project(enc.encode(mix.forward(enc.embed(images, batch: B), mask: mask),
                                                     batch: B, keep: nil, rng: &none), r) },
            backward: { enc.backwardEmbedding(mix.backward(enc.backward(r))) }), file: file, line: line)
    }

    /// Names and depth indices as timm's `SwinTransformer` and the official `get_swin_layer`.
    func testNamesAndDepthIndices() {
        let enc = SwinEncoder(SwinConfig(imageSize: 16, patchSize: 2, embedDim: 8, depths: [2, 3], heads: [2, 2], window: 4))
        let ids = Dictionary(uniqueKeysWithValues: enc.parameters.map { ($0.name, $0.layerID) })
        XCTAssertEqual(ids["encoder.patch_embed.proj.weight"], 0)
        XCTAssertEqual(ids["encoder.patch_embed.norm.weight"], 0)
        XCTAssertEqual(ids["encoder.layers.0.blocks.1.attn.relative_position_bias_table"], 2)
        XCTAssertEqual(ids["encoder.layers.1.downsample.reduction.weight"], 2)
        XCTAssertEqual(ids["encoder.layers.1.downsample.norm.bias"], 2)
        XCTAssertEqual(ids["encoder.layers.1.blocks.0.mlp.fc2.weight"], 3)
        XCTAssertEqual(ids["encoder.layers.1.blocks.2.norm1.weight"], 5)
        XCTAssertEqual(ids["encoder.norm.weight"], 6)
        XCTAssertNil(ids["encoder.layers.0.downsample.reduction.weight"])
        XCTAssertEqual(enc.parameter(named: "encoder.layers.1.blocks.0.attn.relative_position_bias_table")?.value.shape,
                       [49, 2])
        XCTAssertEqual(enc.parameter(named: "encoder.layers.1.downsample.reduction.weight")?.value.shape, [16, 32])
        XCTAssertEqual(enc.layerCount, 5)
        XCTAssertEqual(enc.outputStride, 4)
        XCTAssertEqual(enc.dim, 16)
        XCTAssertFalse(enc.parameter(named: "encoder.layers.0.blocks.0.attn.relative_position_bias_table")!.weightDecay)
    }

    func testPresetsValidateAndBadWindowIsRefused() throws {
        for (_, c) in SwinConfig.presets { XCTAssertNoThrow(try c.validate()) }
        XCTAssertEqual(SwinConfig.micro.outputStride, 8)
        XCTAssertEqual(SwinConfig.base192.outputStride, 32)
        XCTAssertEqual(SwinConfig.base192.outputGrid, 6)
        var bad = SwinConfig.micro
        bad.window = 3
        XCTAssertThrowsError(try bad.validate()) { e in
            XCTAssert("\(e)".hasPrefix("encoder.window = 3 must divide stage 0's 16×16 grid"), "\(e)")
        }
        bad = SwinConfig.micro
        bad.heads = [1, 2]
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssert("\(e)".hasPrefix("encoder.heads"), "\(e)") }
    }

    /// `SwinEncoder.flops` against a count taken from a real forward pass: every Linear's
    /// rows × in × out and every window's two attention products (N²·D multiply-adds each).
    func testFlopCountMatchesForwardPass() {
        for cfg in [SwinConfig.micro, SwinConfig(imageSize: 16, patchSize: 2, embedDim: 8, depths: [2, 1], heads: [2, 2], window: 4)] {
            let enc = SwinEncoder(cfg)
            var none: PRNG? = nil
            let images = random([1, 3, cfg.imageSize, cfg.imageSize])
            enc.forward(images, batch: 1, rng: &none)
            func linear(_ l: Linear) -> Double { 2 * Double(l.output.shape[0] * l.inFeatures * l.outFeatures) }
            var count = linear(enc.patchEmbed.proj)
            for s in enc.stages {
                if let m = s.downsample { count += linear(m.reduction) }
                for b in s.blocks {
                    count += linear(b.attn.qkv) + linear(b.attn.proj) + linear(b.mlp.fc1) + linear(b.mlp.fc2)
                    let p = b.attn.probs.shape          // [windows, heads, N, N]
                    count += 4 * Double(p[0] * p[2] * p[3] * b.attn.dim)
                }
            }
            XCTAssertEqual(SwinEncoder.flops(cfg).forward, count, accuracy: 1e-6 * count)
            XCTAssertEqual(SwinEncoder.flops(cfg).patchEmbedding, linear(enc.patchEmbed.proj))
        }
    }
}
