import Foundation
import Results
import Sweep
import Train
import XCTest

/// A run id must never change for a config that did not change: the committed results are
/// found by id.
final class RunIdentityTests: XCTestCase {
    /// The default config's canonical JSON and id, as written before MAE was added (the
    /// committed database holds this run, a82f6a28897be0e7).
    func testDefaultConfigCanonicalJSONAndRunIDArePinned() throws {
        let json = #"{"data":{"classes":10,"crop_scale_min":0.67,"dataset":"synthetic","finetune_size":2000,"flip":true,"image_size":32,"pool_size":10000,"synthetic_version":5,"test_size":2000},"encoder":{"preset":"vit-micro","vit":{"channels":3,"depth":6,"dim":128,"drop_path":0,"heads":4,"image_size":32,"ln_eps":1e-06,"mlp_ratio":4,"patch_size":4}},"finetune":{"base_lr":0.008,"batch":64,"clip_grad":5,"drop_path":0.1,"epochs":10,"label_smoothing":0.1,"layer_decay":0.75,"min_lr":1e-06,"warmup_epochs":1,"weight_decay":0.05},"head":{"depth":2,"heads":4,"type":"linear","width":128},"linprobe":{"base_lr":0.02,"batch":256,"clip_grad":0,"drop_path":0,"epochs":30,"label_smoothing":0,"layer_decay":1,"min_lr":0,"warmup_epochs":1,"weight_decay":0},"mask":{"patch":8,"ratio":0.6,"type":"random"},"method":"simmim","pretrain":{"base_lr":0.008,"batch":64,"clip_grad":5,"drop_path":0,"epochs":4,"label_smoothing":0,"layer_decay":1,"min_lr":1e-05,"warmup_epochs":0.5,"weight_decay":0.05},"seed":0,"target":{"loss_on":"masked","type":"l1"}}"#
        let c = try RunConfig.parse(yaml: "")
        XCTAssertEqual(c.canonicalJSON(), json)
        XCTAssertEqual(RunID.of(c), "a82f6a28897be0e7")
        // Spelling out every default, as tiny-default.yaml does, is the same run.
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("experiments/tiny-default.yaml").path
        XCTAssertEqual(RunID.of(try RunConfig.load(path: file)), "a82f6a28897be0e7")
        // MAE's section appears only in MAE configs.
        let mae = try RunConfig.parse(yaml: "method: mae\nmask: {patch: 4, ratio: 0.75}")
        XCTAssert(mae.canonicalJSON().contains(#""mae":{"decoder_depth":2"#), mae.canonicalJSON())
        XCTAssertNotEqual(RunID.of(mae), RunID.of(c))
    }

    /// Every run in the committed database: its stored config, read back into today's
    /// `RunConfig` and written canonically, hashes to its id.
    func testEveryCommittedRunIDIsStillItsConfigsHash() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("results/mimlab.sqlite").path
        // Read-only, as `mimlab sql` opens it.
        let rows = try ReadOnlySQL.run("SELECT id, config FROM runs ORDER BY id", path: path)[0].rows
        XCTAssertGreaterThan(rows.count, 100)
        var changed: [String] = []
        for row in rows {
            guard case .text(let id) = row[0], case .text(let json) = row[1] else { return XCTFail("\(row)") }
            let c = try RunConfig.decode(canonicalJSON: json)
            XCTAssertEqual(c.canonicalJSON(), json, id)
            if RunID.of(c) != id { changed.append(id) }
        }
        XCTAssert(changed.isEmpty, "\(changed.count) of \(rows.count) run ids changed: \(changed.prefix(5))")
    }
}
