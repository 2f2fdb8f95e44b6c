import MIM
import NN
import Tensor
import XCTest

final class MAETests: XCTestCase {
    var rng = PRNG(seed: 44)

    static let vit = ViTConfig(imageSize: 8, patchSize: 2, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)

    /// The official `int(L * (1 - mask_ratio))`, truncation included.
    func testKeptTokensFollowsTheOfficialExpression() {
        XCTAssertEqual(MAEConfig.keptTokens(tokens: 64, maskRatio: 0.75), 16)
        XCTAssertEqual(MAEConfig.keptTokens(tokens: 144, maskRatio: 0.6), 57)
        XCTAssertEqual(MAEConfig.keptTokens(tokens: 100, maskRatio: 0.9), 9)
    }

    func testMaskingFromNoise() {
        let noise: [Float] = [0.5, 0.1, 0.9, 0.3, /* image 1 */ 0.2, 0.2, 0.8, 0.1]
        let m = TokenMasking(noise: noise, batch: 2, kept: 2)
        XCTAssertEqual(m.idsKeep, [1, 3, 3, 0])             // ties broken by index
        XCTAssertEqual(m.idsRestore, [2, 0, 3, 1, 1, 2, 3, 0])
        XCTAssertEqual(m.mask, [1, 0, 1, 0, 0, 1, 1, 0])
        var r1 = PRNG(seed: 1), r2 = PRNG(seed: 1)
        XCTAssertEqual(TokenMasking.draw(batch: 3, tokens: 16, kept: 4, &r1), TokenMasking.draw(batch: 3, tokens: 16, kept: 4, &r2))
    }

    /// Table 1f's samplings keep exactly int(L·(1−ratio)) tokens per image, as the encoder
    /// needs: grid keeps the top-left token of every 2×2, block-wise the visible tokens of
    /// BEiT's mask (topped up or cut at random when it misses its target); both by seed.
    func testGridAndBlockwiseSamplingKeepTheOfficialCount() throws {
        let vit = ViTConfig(imageSize: 16, patchSize: 2, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)
        func spec(_ t: MaskType, _ r: Double) -> MaskSpec {
            MaskSpec(type: t, imageSize: 16, modelPatchSize: 2, maskedPatchSize: 2, maskRatio: r)
        }
        let grid = try MAE(vit, MAEConfig(decoderWidth: 8, decoderHeads: 2), maskRatio: 0.75, sampling: spec(.grid, 0.75))
        var r = PRNG(seed: 3)
        grid.drawMasks(batch: 3, &r)
        let g = try XCTUnwrap(grid.masking)
        XCTAssertEqual(g.kept, 16)
        for b in 0..<3 {
            let kept = Set(g.idsKeep[(b * 16)..<((b + 1) * 16)].map(Int.init))
            XCTAssertEqual(kept, Set((0..<64).filter { ($0 / 8) % 2 == 0 && ($0 % 8) % 2 == 0 }))
            XCTAssertEqual(g.mask[(b * 64)..<((b + 1) * 64)].reduce(0, +), 48)
        }
        for ratio in [0.5, 0.75] {
            let block = try MAE(vit, MAEConfig(decoderWidth: 8, decoderHeads: 2), maskRatio: ratio, sampling: spec(.blockwise, ratio))
            var r1 = PRNG(seed: 5), r2 = PRNG(seed: 5)
            block.drawMasks(batch: 4, &r1)
            let m = try XCTUnwrap(block.masking)
            XCTAssertEqual(m.idsKeep.count, 4 * MAEConfig.keptTokens(tokens: 64, maskRatio: ratio))
            for b in 0..<4 { XCTAssertEqual(m.mask[(b * 64)..<((b + 1) * 64)].reduce(0, +), Float(64 - m.kept)) }
            block.drawMasks(batch: 4, &r2)
            XCTAssertEqual(block.masking, m)
            // Unlike sorted noise, blocks: some removed token has a removed 4-neighbour in every image.
            for b in 0..<4 {
                let row = Array(m.mask[(b * 64)..<((b + 1) * 64)])
                XCTAssert((0..<64).contains { i in row[i] == 1 && ((i % 8 < 7 && row[i + 1] == 1) || (i < 56 && row[i + 8] == 1)) })
            }
        }
    }

    /// The decoder alone: latent in, prediction out, every parameter and the latent.
    func testDecoderGradients() {
        let L = 16, K = 4, B = 2
        let dec = MAEDecoder(dim: 8, tokens: L, grid: 4, width: 8, depth: 2, heads: 2, outputs: 12, eps: 1e-6,
                             maskToken: true, layerID: 2)
        for p in dec.parameters { rng.fillNormal(p.value, std: 0.3) }
        let latent = Tensor(shape: [B * (1 + K), 8]); rng.fillNormal(latent, std: 1)
        let r = Tensor(shape: [B * L, 12]); rng.fillNormal(r, std: 1)
        let masking = TokenMasking.draw(batch: B, tokens: L, kept: K, &rng)
        let index = MAEDecoder.unshuffleIndex(masking)
        var dLatent = Tensor(shape: [0])
        assertPasses(GradientCheck().run(
            parameters: dec.parameters, inputs: [("latent", latent, { dLatent })],
            loss: { GradientCheck.project(dec.forward(latent, batch: B, index: index), r) },
            backward: { dLatent = dec.backward(r) }))
        XCTAssertEqual(dec.parameters.filter { $0.name == "decoder.mask_token" }.count, 1)
    }

    /// The whole model, both targets and both places of the mask token: loss → every parameter.
    func testWholeModelGradients() throws {
        for (normPix, inEncoder) in [(false, false), (true, false), (true, true)] {
            let mae = try MAE(Self.vit, MAEConfig(decoderDepth: 1, decoderWidth: 8, decoderHeads: 2, normPix: normPix,
                                                  maskTokenInEncoder: inEncoder), maskRatio: 0.75)
            var init_ = PRNG(seed: 5)
            mae.initialize(&init_)
            // Make biases, gains and tokens observable, as the oracle's perturbed init does.
            for p in mae.parameters where p.name.hasSuffix(".bias") || p.name.contains("norm") || p.name.hasSuffix("_token") {
                for i in 0..<p.count { p.value[i] += 0.2 * rng.normal() }
            }
            let images = Tensor(shape: [2, 3, 8, 8]); rng.fillNormal(images, std: 1)
            mae.drawMasks(batch: 2, &rng)
            XCTAssertEqual(mae.masking!.idsKeep.count, 2 * 4)
            var check = GradientCheck(step: 1e-2, tolerance: 3e-2)
            check.samplesPerTensor = 4
            assertPasses(check.run(parameters: mae.parameters, loss: { mae.forward(images, batch: 2) },
                                   backward: { mae.backward() }))
            XCTAssertEqual(mae.parameter(named: "encoder.mask_token") != nil, inEncoder)
            XCTAssertEqual(mae.parameter(named: "decoder.mask_token") != nil, !inEncoder)
        }
    }

    /// The official `forward_loss`: the mean of the per-patch MSE over removed patches only.
    func testLossIsTheMeanOverRemovedPatches() throws {
        for normPix in [false, true] {
            let mae = try MAE(Self.vit, MAEConfig(decoderDepth: 1, decoderWidth: 8, decoderHeads: 2, normPix: normPix), maskRatio: 0.5)
            var r = PRNG(seed: 2)
            mae.initialize(&r)
            let images = Tensor(shape: [2, 3, 8, 8]); r.fillNormal(images, std: 1)
            mae.drawMasks(batch: 2, &r)
            let loss = mae.forward(images, batch: 2)
            let m = mae.masking!.mask, lpp = mae.loss.lossPerPatch
            let removed = zip(m, lpp).filter { $0.0 == 1 }.map { Double($0.1) }
            XCTAssertEqual(removed.count, 16)
            XCTAssertEqual(loss, removed.reduce(0, +) / 16, accuracy: 1e-5 * loss)
            // The target is channel-fastest: feature (dy·p + dx)·C + c of patch 0 is pixel (dy, dx) of channel c.
            if !normPix { XCTAssertEqual(mae.loss.target[1 * 3 + 2], images[(2 * 8 + 0) * 8 + 1]) }
        }
    }

    func testOfficialNames() {
        XCTAssertEqual(MAE.officialName("encoder.patch_embed.weight"), "patch_embed.proj.weight")
        XCTAssertEqual(MAE.officialName("encoder.cls_token"), "cls_token")
        XCTAssertEqual(MAE.officialName("encoder.blocks.1.attn.qkv.bias"), "blocks.1.attn.qkv.bias")
        XCTAssertEqual(MAE.officialName("decoder.mask_token"), "mask_token")
        XCTAssertEqual(MAE.officialName("decoder.blocks.0.mlp.fc1.weight"), "decoder_blocks.0.mlp.fc1.weight")
        XCTAssertEqual(MAE.officialName("decoder.pred.bias"), "decoder_pred.bias")
    }
}
