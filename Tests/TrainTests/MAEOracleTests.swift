import Foundation
import NN
import Tensor
import Train
import XCTest

/// mimlab's MAE against the float64 PyTorch reference (shared/oracle/mae_ref.py), on
/// committed copies of its cases, with the README's bars (section 7.4): 1e-4 for outputs,
/// activations and gradients, the mask and ids exactly, 1e-3 after AdamW steps, the qkv
/// biases' q and v rows at 1e-3 (their k rows, with an analytically zero gradient, at 1e-2).
final class MAEOracleTests: XCTestCase {
    static let fixtures = OracleTests.fixtures

    func check(_ name: String, threads: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        let oracle = try MAEOracleCase(path: Self.fixtures.appendingPathComponent("\(name).safetensors").path)
        let (ours, ref) = try OracleTests.check(
            threads: threads, reference: "ref64_\(name)",
            groups: ["output.loss", "output.pred", "output.target", "output.loss_per_patch", "output.mask",
                     "output.ids_restore", "output.ids_keep", "output.grad_norm", "output.step_losses",
                     "act.embed", "act.visible", "act.latent", "act.dec_in", "act.dec_norm", "grad.", "step1.", "step3."],
            rtol: Compare.maeTolerance, file: file, line: line) { try oracle.run() }
        // Every trainable parameter's gradient (the two fixed position tables have none).
        let grads = Set(ref.tensors.keys.filter { $0.hasPrefix("grad.") })
        XCTAssertEqual(grads.count, try oracle.model().parameters.count, file: file, line: line)
        // The mask and ids exactly, as integers.
        for name in ["output.ids_restore", "output.ids_keep"] {
            XCTAssertEqual(ref.integers[name]?.values, ours[name]!.array.map { Int32($0) }, name, file: file, line: line)
        }
        XCTAssertEqual(ref.tensors["output.mask"]!.array, ours["output.mask"]!.array, file: file, line: line)
        // The qkv biases after the steps: q and v rows at the ordinary 1e-3.
        for (name, r) in ref.tensors where name.hasPrefix("step") && name.hasSuffix("attn.qkv.bias") {
            let t = ours[name]!, D = r.count / 3
            let qv = Array(0..<D) + Array((2 * D)..<(3 * D))
            let maxRef = qv.map { abs(Double(r[$0])) }.max()!
            let diff = qv.map { abs(Double(r[$0]) - Double(t[$0])) }.max()!
            XCTAssertLessThanOrEqual(diff / max(maxRef, 1e-6), 1e-3, name, file: file, line: line)
        }
    }

    func testMAESmallCaseMatchesFloat64Reference() throws { try check("mae_small") }
    func testMAESmallNormPixCaseMatchesFloat64Reference() throws { try check("mae_small_normpix") }
    func testMAESmallCaseSingleThreaded() throws { try check("mae_small", threads: 1) }

    /// `mimlab step` on an MAE case writes the ids as integers and `mimlab compare` passes it.
    func testStepCommandOnAnMAECase() throws {
        let bin = OracleTests.productsDirectory.appendingPathComponent("mimlab")
        guard FileManager.default.isExecutableFile(atPath: bin.path) else {
            return XCTFail("\(bin.path) not built; run `swift build -c release --product mimlab` first (scripts/test.sh does)")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-mae-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let step = try OracleTests.run(bin, ["step", "--case", Self.fixtures.appendingPathComponent("mae_small_normpix.safetensors").path,
                                             "--out", out.path])
        XCTAssertEqual(step.status, 0, step.output)
        let written = try SafetensorsFile(contentsOf: out.path)
        XCTAssertEqual(written.integers["output.ids_keep"]?.shape, [4, 16])
        let cmp = try OracleTests.run(bin, ["compare", "--ref", Self.fixtures.appendingPathComponent("ref64_mae_small_normpix.safetensors").path,
                                            "--test", out.path])
        XCTAssertEqual(cmp.status, 0, cmp.output)
        XCTAssert(cmp.output.contains("199 ok, 0 failed"), cmp.output)
    }
}
