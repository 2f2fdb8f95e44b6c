import Foundation
import NN
import Tensor
import Train
import XCTest

/// mimlab against the float64 PyTorch reference (shared/oracle), on committed copies of its
/// case files: every tensor the reference writes, within the oracle README's tolerances.
final class OracleTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/oracle")

    func check(_ name: String, threads: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        // Every group the README lists is there.
        try Self.check(threads: threads, reference: "ref64_\(name)",
                       groups: ["output.loss", "output.pred", "output.grad_norm", "output.step_losses", "grad.", "act.",
                                "step1.", "step3.", "ft.logits", "ft.loss", "ft.grad."], file: file, line: line) {
            try OracleCase(path: Self.fixtures.appendingPathComponent("case_\(name).safetensors").path).run()
        }
    }

    /// Runs a case on `threads` threads and compares every tensor of the committed reference
    /// (`Fixtures/oracle/<reference>.safetensors`) within the oracle's tolerances; each of
    /// `groups` (name prefixes) must be among those compared.
    /// Returns both sides for the caller's own checks; `rtol` as `Compare.run`.
    @discardableResult
    static func check(threads: Int, reference: String, groups: [String], rtol: ((String) -> Double)? = nil,
                      file: StaticString, line: UInt,
                      run: () throws -> [String: Tensor]) throws -> (ours: [String: Tensor], ref: SafetensorsFile) {
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        let ours = try run()
        let ref = try SafetensorsFile(contentsOf: fixtures.appendingPathComponent("\(reference).safetensors").path)
        let rows = Compare.run(reference: ref.tensors, test: ours, rtol: rtol)
        XCTAssertEqual(rows.count, ref.tensors.count, file: file, line: line)
        let failed = rows.filter { !$0.passed }
        XCTAssert(failed.isEmpty, "\(failed.count) tensors differ: " + failed.prefix(8).map {
            "\($0.name) \($0.status.rawValue) rel_err \($0.relErr)" }.joined(separator: "; "), file: file, line: line)
        for prefix in groups {
            XCTAssert(rows.contains { $0.name.hasPrefix(prefix) }, "no \(prefix) tensors compared", file: file, line: line)
        }
        return (ours, ref)
    }

    func testSmallCaseMatchesFloat64Reference() throws { try check("small", threads: 2) }
    func testMicroCaseMatchesFloat64Reference() throws { try check("micro", threads: 2) }
    func testMicroCaseSingleThreaded() throws { try check("micro", threads: 1) }

    /// The comparison itself flags a wrong tensor (so the tests above can fail).
    func testCompareFlagsDifferences() {
        let ref = ["grad.a": Tensor(shape: [3], values: [1, 2, 3]), "step1.a": Tensor(shape: [2], values: [1, 1]),
                   "grad.missing": Tensor(shape: [1], values: [1])]
        let test = ["grad.a": Tensor(shape: [3], values: [1, 2, 3.001]), "step1.a": Tensor(shape: [2], values: [1, 1.0005])]
        let rows = Dictionary(uniqueKeysWithValues: Compare.run(reference: ref, test: test).map { ($0.name, $0) })
        XCTAssertEqual(rows["grad.a"]!.status, .fail)         // 3.3e-4 > 1e-4
        XCTAssertEqual(rows["step1.a"]!.status, .ok)          // 5e-4 ≤ 1e-3
        XCTAssertEqual(rows["grad.missing"]!.status, .missing)
    }

    /// `mimlab step` and `mimlab compare` end to end, as a PyTorch user would run them.
    func testStepCommandEndToEnd() throws {
        let bin = Self.productsDirectory.appendingPathComponent("mimlab")
        guard FileManager.default.isExecutableFile(atPath: bin.path) else {
            return XCTFail("\(bin.path) not built; run `swift build -c release --product mimlab` first (scripts/test.sh does)")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-step-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let caseFile = Self.fixtures.appendingPathComponent("case_small.safetensors").path
        let step = try Self.run(bin, ["step", "--case", caseFile, "--out", out.path])
        XCTAssertEqual(step.status, 0, step.output)
        XCTAssert(step.output.contains("loss="), step.output)
        let cmp = try Self.run(bin, ["compare", "--ref", Self.fixtures.appendingPathComponent("ref64_small.safetensors").path,
                                     "--test", out.path])
        XCTAssertEqual(cmp.status, 0, cmp.output)
        XCTAssert(cmp.output.contains("139 ok, 0 failed"), cmp.output)
        // A bad case path is a one-line error, not a crash.
        let bad = try Self.run(bin, ["step", "--case", "/nonexistent.safetensors", "--out", out.path])
        XCTAssertEqual(bad.status, 2)
        XCTAssert(bad.output.contains("/nonexistent.safetensors: cannot read file"), bad.output)
    }

    static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static func run(_ bin: URL, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// SimMIM on Swin against the float64 reference of `scripts/oracle/swin_ref.py` (timm's
/// `SwinTransformer`): loss, reconstruction, every gradient, parameters after 3 AdamW
/// steps, fine-tune logits, loss and gradients, within the oracle's tolerances.
final class SwinOracleTests: XCTestCase {
    func check(threads: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        try OracleTests.check(threads: threads, reference: "ref64_swin_nano",
                              groups: ["output.loss", "output.pred", "output.grad_norm", "output.step_losses", "grad.encoder.layers.1.downsample",
                                       "grad.encoder.layers.0.blocks.1.attn.relative_position_bias_table", "grad.encoder.mask_token",
                                       "grad.decoder", "step1.", "step3.", "ft.logits", "ft.loss", "ft.grad.encoder.", "ft.grad.cls_head"],
                              file: file, line: line) {
            try SwinOracleCase(path: OracleTests.fixtures.appendingPathComponent("case_swin_nano.safetensors").path).run()
        }
    }

    func testSwinNanoMatchesFloat64Reference() throws { try check(threads: 2) }
    func testSwinNanoSingleThreaded() throws { try check(threads: 1) }
}
