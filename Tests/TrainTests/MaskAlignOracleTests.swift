import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// mimlab's MaskAlign against the float64 reference adapted from the official
/// `models_pretrain.py` (scripts/oracle/maskalign_ref.py), on committed copies of its cases:
/// the official recipe (dynamic alignment, linear adapters, attentive masking), layer-wise
/// alignment with MLP adapters and random masking, and norm-linear adapters with a teacher
/// without a class token. Bars as MAE's: 1e-4, the kept ids exactly, 1e-3 after AdamW steps.
final class MaskAlignOracleTests: XCTestCase {
    static let fixtures = OracleTests.fixtures

    func check(_ name: String, threads: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        let oracle = try MaskAlignOracleCase(path: Self.fixtures.appendingPathComponent("maskalign_\(name).safetensors").path)
        let (ours, ref) = try OracleTests.check(
            threads: threads, reference: "ref64_maskalign_\(name)",
            groups: ["output.loss", "output.grad_norm", "output.teacher_attention", "output.step_losses",
                     "grad.distill_heads.", "grad.blocks.", "grad.patch_embed.", "grad.cls_token", "step3."],
            rtol: Compare.tolerance(forFormat: MaskAlignOracleCase.format), file: file, line: line) { try oracle.run() }
        // Every trainable parameter's gradient, the alignment matrix's with dynamic alignment.
        let model = try oracle.model()
        XCTAssertEqual(Set(ref.tensors.keys.filter { $0.hasPrefix("grad.") }),
                       Set(model.parameters.map { "grad." + MaskAlign.officialName($0.name) }), file: file, line: line)
        XCTAssertEqual(ref.tensors["grad.distill_weights"] != nil, oracle.alignConfig.alignment == .dynamic, file: file, line: line)
        XCTAssertEqual(ref.integers["output.ids_keep"]?.values, ours["output.ids_keep"]!.array.map { Int32($0) }, file: file, line: line)
    }

    func testOfficialRecipeMatchesFloat64Reference() throws { try check("small") }
    func testOfficialRecipeSingleThreaded() throws { try check("small", threads: 1) }
    func testLayerwiseMLPRandomMaskingMatchesFloat64Reference() throws { try check("layerwise_mlp_random") }
    func testNormLinearTeacherWithoutClassTokenMatchesFloat64Reference() throws { try check("normlinear_nocls") }

    /// The attentive mask from the reference's own teacher attention and the case's noise:
    /// importance (class-token row, or mean attention received) and the kept ids, exactly.
    func testAttentiveMaskFromReferenceAttentionAndNoise() throws {
        for (name, prefix) in [("small", 1), ("normlinear_nocls", 0)] {
            let c = try SafetensorsFile(contentsOf: Self.fixtures.appendingPathComponent("maskalign_\(name).safetensors").path)
            let ref = try SafetensorsFile(contentsOf: Self.fixtures.appendingPathComponent("ref64_maskalign_\(name).safetensors").path)
            let attention = ref.tensors["output.teacher_attention"]!, noise = c.tensors["input.noise"]!
            let (B, H) = (attention.shape[0], attention.shape[1])
            let p = AttentiveMasking.importance(attention: attention, batch: B, heads: H, prefix: prefix)
            let r = ref.tensors["output.importance"]!
            for i in 0..<p.count { XCTAssertEqual(p[i], r[i], accuracy: 1e-6 * max(1, abs(r[i])), name) }
            let ids = ref.integers["output.ids_keep"]!
            let m = AttentiveMasking.masking(importance: r.array, noise: noise.array, batch: B, kept: ids.shape[1])
            XCTAssertEqual(m.idsKeep, ids.values, name)
        }
    }

    /// `mimlab step` on a MaskAlign case writes the ids as integers and `mimlab compare` passes it.
    func testStepCommandOnAMaskAlignCase() throws {
        let bin = OracleTests.productsDirectory.appendingPathComponent("mimlab")
        guard FileManager.default.isExecutableFile(atPath: bin.path) else {
            return XCTFail("\(bin.path) not built; run `swift build -c release --product mimlab` first (scripts/test.sh does)")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-maskalign-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let step = try OracleTests.run(bin, ["step", "--case", Self.fixtures.appendingPathComponent("maskalign_small.safetensors").path,
                                             "--out", out.path])
        XCTAssertEqual(step.status, 0, step.output)
        XCTAssertEqual(try SafetensorsFile(contentsOf: out.path).integers["output.ids_keep"]?.shape, [2, 8])
        let cmp = try OracleTests.run(bin, ["compare", "--ref", Self.fixtures.appendingPathComponent("ref64_maskalign_small.safetensors").path,
                                            "--test", out.path])
        XCTAssertEqual(cmp.status, 0, cmp.output)
        XCTAssert(cmp.output.contains("98 ok, 0 failed"), cmp.output)
    }
}
