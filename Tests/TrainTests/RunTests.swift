import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// One run end to end on a few hundred synthetic images, through every head and target.
final class RunTests: TinyRunTestCase {
    static let tiny = """
    data: {pool_size: 128, finetune_size: 64, test_size: 64}
    encoder: {preset: vit-nano}
    pretrain: {epochs: 1, batch: 32}
    finetune: {epochs: 1, batch: 32}
    linprobe: {epochs: 2, batch: 32}
    """

    func run(_ overrides: [String], out: String? = nil) throws -> RunResult {
        try run(try config(overrides), out: out)
    }

    func testEveryPhaseReportsItsResults() throws {
        let out = (cache as NSString).appendingPathComponent("out")
        let r = try run([], out: out)
        for key in ["avgdist", "avgdist_rel", "pretrain.loss", "pretrain.seconds", "pretrain.gflop", "pretrain.steps",
                    "linprobe.top1", "finetune.top1", "finetune.seconds", "finetune.gflop",
                    "pretrain.cpu_seconds", "linprobe.cpu_seconds", "finetune.cpu_seconds"] {
            guard let v = r[key] else { XCTFail("missing \(key)"); continue }
            XCTAssert(v.isFinite, "\(key) = \(v)")
        }
        XCTAssertEqual(r["pretrain.steps"], 4)       // 128 / 32 × 1 epoch
        XCTAssertGreaterThan(r["pretrain.cpu_seconds"]!, 0)
        XCTAssert((0...100).contains(r["finetune.top1"]!))
        XCTAssertEqual(r["avgdist_rel"]!, r["avgdist"]! / 32, accuracy: 1e-12)
        XCTAssert(FileManager.default.fileExists(atPath: out + "/pretrain.safetensors"))
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as! [String: Any]
        XCTAssertNotNil(doc["config"])
        XCTAssertEqual((doc["results"] as! [String: Double])["finetune.top1"], r["finetune.top1"])
    }

    func testSameSeedSameResults() throws {
        let a = try run(["seed=4"]), b = try run(["seed=4"]), c = try run(["seed=5"])
        for key in ["pretrain.loss", "linprobe.top1", "finetune.top1", "finetune.loss", "avgdist"] {
            XCTAssertEqual(a[key], b[key], key)
        }
        XCTAssertNotEqual(a["pretrain.loss"], c["pretrain.loss"])
    }

    func testEveryHeadAndTarget() throws {
        for o in [["head.type=mlp2"], ["head.type=transformer", "head.depth=1", "head.width=32", "head.heads=2"],
                  ["target.type=l2"], ["target.type=smooth-l1"], ["target.type=normalized-pixel"],
                  ["target.type=bins-8", "target.pred_resolution=16"], ["target.type=bins-256", "target.pred_resolution=8"],
                  ["target.type=color-cluster-8"], ["target.loss_on=all"],
                  ["mask.type=square", "mask.ratio=0.25"], ["mask.type=block-wise", "mask.patch=4"]] {
            let r = try run(o + ["linprobe.epochs=0", "finetune.epochs=0"])
            XCTAssert(r["pretrain.loss"]!.isFinite && r["pretrain.loss"]! > 0, "\(o): \(r.values)")
        }
    }

    /// `encoder.position: sincos` gives SimMIM's ViT MAE's fixed table in place of the learned
    /// embedding: a run of its own (another id, no `pos_embed` to train or save), while
    /// `learned` written out is the default's run; other methods and Swin refuse the key.
    func testSimMIMWithFixedSinCosPosition() throws {
        let base = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml")
        let learned = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: ["encoder.position=learned"])
        let sincos = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: ["encoder.position=sincos"])
        XCTAssertEqual(learned.canonicalJSON(), base.canonicalJSON())
        XCTAssertFalse(base.canonicalJSON().contains("position"))
        XCTAssertNotEqual(sincos.canonicalJSON(), base.canonicalJSON())
        XCTAssertEqual(try RunConfig.decode(canonicalJSON: sincos.canonicalJSON()), sincos)
        let model = try XCTUnwrap(try Methods.recipe(sincos).make(sincos, data: nil) as? SimMIM)
        XCTAssertNil(model.encoder.posEmbed)
        XCTAssertNotNil(try XCTUnwrap(try Methods.recipe(base).make(base, data: nil) as? SimMIM).encoder.posEmbed)

        let out = (cache as NSString).appendingPathComponent("sincos")
        let r = try run(["encoder.position=sincos"], out: out)
        XCTAssert(r["finetune.top1"]!.isFinite && r["pretrain.loss"]! > 0, "\(r.values)")
        XCTAssertNil(try SafetensorsFile(contentsOf: out + "/pretrain.safetensors").tensors["encoder.pos_embed"])

        func message(_ o: [String]) -> String {
            do { _ = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: o); return "no error" } catch { return "\(error)" }
        }
        XCTAssert(message(["encoder.position=rope"]).contains("valid values are learned, sincos") || message(["encoder.position=rope"]).contains("learned, sincos"),
                  message(["encoder.position=rope"]))
        XCTAssert(message(["method=mae", "mask.patch=4", "mask.ratio=0.75", "encoder.position=sincos"])
            .contains("encoder.position applies to method simmim on a ViT preset, not method mae"))
        XCTAssert(message(["encoder.preset=swin-micro", "encoder.position=sincos"]).contains("relative position bias"),
                  message(["encoder.preset=swin-micro", "encoder.position=sincos"]))
    }

    /// `method: mae` pre-trains, probes and fine-tunes, with either pooled feature and with the
    /// mask token in the encoder; the fine-tune model takes the encoder by name, strictly.
    func testMAERunsEveryPhase() throws {
        let mae = ["method=mae", "mask.patch=4", "mask.ratio=0.75", "mae.decoder_width=32"]
        let out = (cache as NSString).appendingPathComponent("mae")
        let r = try run(mae, out: out)
        for key in ["pretrain.loss", "pretrain.gflop", "linprobe.top1", "finetune.top1"] {
            XCTAssert(r[key]?.isFinite == true, "\(key): \(r.values)")
        }
        let saved = try SafetensorsFile(contentsOf: out + "/pretrain.safetensors")
        XCTAssertNotNil(saved.tensors["encoder.cls_token"])
        XCTAssertNotNil(saved.tensors["decoder.mask_token"])
        for o in [["mae.pool=cls"], ["mae.mask_token_in_encoder=true", "mae.norm_pix=false"]] {
            let q = try run(mae + o + ["linprobe.epochs=1", "finetune.epochs=1"])
            XCTAssert(q["finetune.top1"]!.isFinite && q["pretrain.loss"]! > 0, "\(o): \(q.values)")
        }
    }

    func testFineTuneLoadIsStrict() throws {
        let ft = FineTuneModel(.nano, classes: 10)
        var state = ft.encoder.stateDict
        state["encoder.mask_token"] = Tensor(shape: [1, 1, 48])
        XCTAssertThrowsError(try ft.loadEncoder(state)) { XCTAssert("\($0)".contains("'encoder.mask_token'"), "\($0)") }
        state["encoder.mask_token"] = nil
        state["encoder.norm.bias"] = nil
        XCTAssertThrowsError(try ft.loadEncoder(state)) { XCTAssert("\($0)".contains("missing parameter 'encoder.norm.bias'"), "\($0)") }
    }

    func testRandomInitBaselineSkipsPretraining() throws {
        let r = try run(["pretrain.epochs=0"])
        XCTAssertNil(r["pretrain.loss"])
        XCTAssertNotNil(r["finetune.top1"])
    }

    /// A batch whose loss is not a number stops the phase with a DivergenceError naming it.
    func testDivergenceIsReported() throws {
        struct Poisoned: BatchSource {
            var batchSize: Int { 4 }
            var batchesPerEpoch: Int { 2 }
            var imageShape: (channels: Int, size: Int) { (3, 32) }
            func fill(epoch: Int, index: Int, images: Tensor) -> [Int32] {
                images.resize([4, 3, 32, 32])
                images.fill(index == 1 ? .nan : 0.5)
                return [0, 1, 2, 3]
            }
        }
        let c = try RunConfig.parse(yaml: Self.tiny)
        let model = try SimMIM(c.encoder.vit, try c.simmimConfig(), masks: c.maskSpec)
        var rng = PRNG(seed: 1)
        model.initialize(&rng)
        XCTAssertThrowsError(try Pretrainer(phase: c.pretrain, seed: 0).run(model, data: Poisoned())) { e in
            XCTAssertEqual("\(e)", "pretrain diverged at step 2: loss = nan")
        }
    }
}
