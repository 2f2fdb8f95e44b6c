import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// Swin as a run-config encoder: the preset, its checks, and a run through every phase.
final class SwinRunTests: TinyRunTestCase {
    func testPresetBuildsSimMIMOnSwin() throws {
        let c = try config(["encoder.preset=swin-micro"])
        XCTAssertEqual(c.encoder.swin, {
            var s = SwinConfig.micro; s.imageSize = 32; return s }())
        XCTAssert(c.canonicalJSON().contains("\"swin\":{"))
        let model = try Methods.recipe(c).make(c, data: nil)
        let swin = try XCTUnwrap(model as? SimMIMSwin)
        XCTAssertEqual(swin.encoder.outputStride, 8)
        XCTAssertEqual(swin.head.outputsPerToken, 8 * 8 * 3)
        XCTAssertFalse(swin.maskToken.weightDecay)
        // The head sits after every Swin block for layer-wise lr decay.
        XCTAssertEqual(swin.decoder(named: "decoder.weight")?.layerID, SwinConfig.micro.blockCount + 1)
        // Round trip through the canonical JSON.
        XCTAssertEqual(try RunConfig.decode(canonicalJSON: c.canonicalJSON()), c)
        // Overrides reach the Swin config.
        let d = try config(["encoder.preset=swin-micro", "encoder.dim=16", "encoder.window=2"])
        XCTAssertEqual(d.encoder.swin?.embedDim, 16)
        XCTAssertEqual(d.encoder.swin?.window, 2)
    }

    /// Adding Swin left the ViT configs' JSON (and so their ids) alone.
    func testViTConfigHasNoSwinSection() throws {
        let c = try config([])
        XCTAssertNil(c.encoder.swin)
        XCTAssertFalse(c.canonicalJSON().contains("swin"))
    }

    func testBadSettingsNameTheField() {
        func message(_ o: [String]) -> String {
            do { _ = try config(o); return "no error" } catch { return "\(error)" }
        }
        XCTAssert(message(["encoder.preset=swin-micro", "encoder.window=3"]).contains("encoder.window = 3 must divide stage 0's 16×16 grid"),
                  message(["encoder.preset=swin-micro", "encoder.window=3"]))
        XCTAssert(message(["encoder.preset=swin-micro", "mask.patch=4"]).contains("mask.patch = 4 must be a multiple of the Swin output stride 8"))
        XCTAssert(message(["encoder.preset=swin-micro", "method=mae", "mask.ratio=0.75"]).contains("valid: simmim"))
        XCTAssert(message(["encoder.preset=swin-micro", "encoder.depth=3"]).contains("encoder.depth applies to the ViT presets"))
        XCTAssert(message(["encoder.window=4"]).contains("encoder.window applies to the Swin presets"))
        XCTAssert(message(["encoder.preset=swin-micro", "target.pred_resolution=12"]).contains("valid: 4, 8, 16, 32"),
                  message(["encoder.preset=swin-micro", "target.pred_resolution=12"]))
    }

    /// `mimlab run` with a Swin preset: pre-training, the linear probe and fine-tuning (with
    /// layer-wise lr decay and drop-path), deterministic by seed.
    func testSwinRunsEveryPhase() throws {
        let o = ["encoder.preset=swin-micro", "encoder.dim=16", "finetune.layer_decay=0.75", "finetune.drop_path=0.1"]
        let c = try config(o + ["seed=3"])
        let data = try RunDataFactory.make(c, cacheDir: cache)
        let a = try Run(config: c, outputDir: nil).execute(data)
        for key in ["pretrain.loss", "pretrain.gflop", "linprobe.top1", "finetune.top1", "finetune.gflop"] {
            XCTAssert(a[key]?.isFinite == true, "\(key): \(a.values)")
        }
        let b = try Run(config: c, outputDir: nil).execute(data)
        XCTAssertEqual(a["pretrain.loss"], b["pretrain.loss"])
        XCTAssertEqual(a["finetune.top1"], b["finetune.top1"])
    }
}

private extension SimMIMSwin {
    func decoder(named n: String) -> Parameter? { head.parameters.first { $0.name == n } }
}
