import Foundation
import NN
import Tensor
import Train
import XCTest

/// `pretrained:` starts a run from the model an earlier run pre-trained: the probe and
/// fine-tuning see exactly what they would have seen after that run's own pre-training,
/// and a config that would misdescribe how its encoder was made is refused.
final class PretrainedRunTests: TinyRunTestCase {
    func message(_ overrides: [String]) -> String {
        do { _ = try config(overrides); return "no error" } catch { return "\(error)" }
    }

    func testFineTunesTheSourceRunsModel() throws {
        let source = (cache as NSString).appendingPathComponent("source")
        let full = try run(try config(["seed=3"]), out: source)

        // Same seed: the probe and fine-tuning repeat the source run's to the last digit.
        let again = try config(["seed=3", "pretrained=\(source)"])
        let r = try run(again)
        for key in ["linprobe.top1", "finetune.top1", "finetune.loss"] {
            XCTAssertEqual(r[key], full[key], key)
        }
        XCTAssertNil(r["pretrain.loss"], "nothing was pre-trained here")

        // The source's identity is in the run id, its path is not.
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: source + "/pretrain.safetensors"))
        XCTAssertEqual(again.pretrained, "sha256:" + SHA256.hex(Array(bytes)))
        XCTAssert(again.canonicalJSON().contains("\"pretrained\":\"sha256:"))
        XCTAssertFalse(again.canonicalJSON().contains(source))
        XCTAssertNotEqual(again.canonicalJSON(), try config(["seed=3"]).canonicalJSON())
        XCTAssertFalse(try config(["seed=3"]).canonicalJSON().contains("pretrained"))

        // What comes after pre-training may change: another seed, recipe and label budget.
        let other = try run(try config(["seed=4", "pretrained=\(source)/pretrain.safetensors",
                                        "finetune.base_lr=0.004", "data.finetune_size=32", "linprobe.epochs=0"]))
        XCTAssert(other["finetune.top1"]!.isFinite)
        XCTAssertNil(other["linprobe.top1"])
    }

    func testRefusesAConfigThatWouldMisdescribeItsEncoder() throws {
        let source = (cache as NSString).appendingPathComponent("source")
        _ = try run(try config(["finetune.epochs=0", "linprobe.epochs=0"]), out: source)

        let ratio = message(["mask.ratio=0.75", "pretrained=\(source)"])
        XCTAssert(ratio.contains("\(source)/pretrain.safetensors: the checkpoint was pre-trained with mask.ratio = 0.6, this config has 0.75"), ratio)
        XCTAssert(message(["pretrain.base_lr=0.004", "pretrained=\(source)"]).contains("pretrain.base_lr = 0.008, this config has 0.004"))
        XCTAssert(message(["pretrain.epochs=0", "pretrained=\(source)"]).contains("random-init baseline"))
        XCTAssert(message(["pretrained=\(cache!)/none.safetensors"]).contains("none.safetensors: no such file (pretrained)"))
        XCTAssert(message(["pretrained="]).contains("pretrained needs a run id"))

        // A file changed after the config named it is refused when the run starts.
        let c = try config(["pretrained=\(source)"])
        let other = (cache as NSString).appendingPathComponent("other")
        _ = try run(try config(["seed=9", "finetune.epochs=0", "linprobe.epochs=0"]), out: other)
        try FileManager.default.removeItem(atPath: source + "/pretrain.safetensors")
        try FileManager.default.copyItem(atPath: other + "/pretrain.safetensors", toPath: source + "/pretrain.safetensors")
        XCTAssertThrowsError(try run(c)) { XCTAssert("\($0)".contains("changed since the config named it"), "\($0)") }
    }

    /// By run id the checkpoint must be that run's: its recorded config hashes to the id.
    func testARunIDMustNameItsOwnCheckpoint() throws {
        let source = (cache as NSString).appendingPathComponent("source")
        let c = try config(["finetune.epochs=0", "linprobe.epochs=0"])
        _ = try run(c, out: source)
        let json = try XCTUnwrap(try SafetensorsFile(contentsOf: source + "/pretrain.safetensors").metadata["config"])
        let id = String(SHA256.hex(Array(json.utf8)).prefix(16))
        XCTAssertNoThrow(try CheckpointReference(id, runs: cache, field: "pretrained").checkRunConfig(json))
        XCTAssertThrowsError(try CheckpointReference("0123456789abcdef", runs: cache, field: "pretrained").checkRunConfig(json)) {
            XCTAssert("\($0)".contains("metadata 'config': not the config of run 0123456789abcdef"), "\($0)")
        }
        XCTAssertEqual(try CheckpointReference(id.uppercased(), runs: cache, field: "pretrained").identity(), "run:" + id)
    }
}
