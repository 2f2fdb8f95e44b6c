import Foundation
import NN
import Tensor
import XCTest

final class OptimizerTests: XCTestCase {
    /// The documented torch.optim.AdamW update, in Double, against ours in Float.
    func testAdamWMatchesTorchFormula() {
        let p = Parameter("w", shape: [50]), nd = Parameter("b.bias", shape: [50])
        var rng = PRNG(seed: 1)
        rng.fillNormal(p.value, std: 1); rng.fillNormal(nd.value, std: 1)
        XCTAssertTrue(p.weightDecay == false)  // 1-D: the official rule exempts it
        p.weightDecay = true
        XCTAssertFalse(nd.weightDecay)
        let (lr, b1, b2, eps, wd) = (1e-2, 0.9, 0.999, 1e-8, 0.05)
        let opt = AdamW([p, nd], beta1: Float(b1), beta2: Float(b2), eps: Float(eps), weightDecay: Float(wd))
        var ref = [p.value.array.map(Double.init), nd.value.array.map(Double.init)]
        var m = [[Double]](repeating: [Double](repeating: 0, count: 50), count: 2), v = m
        for t in 1...5 {
            for (k, q) in [p, nd].enumerated() {
                rng.fillNormal(q.grad, std: 1)
                let decay = k == 0 ? wd : 0
                for i in 0..<50 {
                    let g = Double(q.grad[i])
                    ref[k][i] *= 1 - lr * decay
                    m[k][i] = b1 * m[k][i] + (1 - b1) * g
                    v[k][i] = b2 * v[k][i] + (1 - b2) * g * g
                    let denom = v[k][i].squareRoot() / (1 - pow(b2, Double(t))).squareRoot() + eps
                    ref[k][i] -= lr / (1 - pow(b1, Double(t))) * m[k][i] / denom
                }
            }
            opt.update(lr: Float(lr))
        }
        for (k, q) in [p, nd].enumerated() {
            for i in 0..<50 { XCTAssertEqual(Double(q.value[i]), ref[k][i], accuracy: 1e-5) }
        }
    }

    func testClipGradNorm() {
        let a = Parameter("a", shape: [2]), b = Parameter("b", shape: [1])
        a.grad.copy(from: Tensor(shape: [2], values: [3, 0]))
        b.grad.copy(from: Tensor(shape: [1], values: [4]))
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 5, accuracy: 1e-9)
        XCTAssertEqual(a.grad.array, [3, 0])  // below the threshold: untouched
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(Double(a.grad[0]), 3 / (5 + 1e-6), accuracy: 1e-6)
        XCTAssertEqual(Double(b.grad[0]), 4 / (5 + 1e-6), accuracy: 1e-6)
    }

    func testLayerDecay() {
        let enc = ViTEncoder(ViTConfig(dim: 8, depth: 2, heads: 2))
        let opt = AdamW(enc.parameters)
        opt.setLayerDecay(0.5, layers: 2 + 2)
        for (i, p) in enc.parameters.enumerated() {
            let expected: Float = p.name.hasPrefix("encoder.blocks.0") ? 0.25 : p.name.hasPrefix("encoder.blocks.1") ? 0.5
                : p.name.hasPrefix("encoder.norm") ? 1 : 0.125
            XCTAssertEqual(opt.lrScale[i], expected, p.name)
        }
    }

    func testWarmupCosine() {
        let s = WarmupCosine(base: 1e-3, minimum: 1e-5, warmupSteps: 10, warmupInit: 0, totalSteps: 110)
        XCTAssertEqual(s.lr(at: 0), 0)
        XCTAssertEqual(s.lr(at: 5), 5e-4, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 10), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 60), (1e-3 + 1e-5) / 2, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 110), 1e-5, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 500), 1e-5, accuracy: 1e-12)
        for t in 10..<110 { XCTAssertGreaterThanOrEqual(s.lr(at: t), s.lr(at: t + 1)) }
    }

    /// The official SimMIM no-decay rule: 1-D tensors, biases and the position embedding;
    /// the ViT variant's mask token is decayed.
    func testNoDecayRule() {
        let enc = ViTEncoder(ViTConfig(dim: 8, depth: 1, heads: 2))
        let noDecay = Set(enc.parameters(inserting: MaskTokenMix(dim: 8).parameters).filter { !$0.weightDecay }.map(\.name))
        XCTAssert(noDecay.contains("encoder.pos_embed"))
        XCTAssert(noDecay.contains("encoder.blocks.0.norm1.weight"))
        XCTAssert(noDecay.contains("encoder.blocks.0.attn.qkv.bias"))
        XCTAssertFalse(noDecay.contains("encoder.mask_token"))
        XCTAssertFalse(noDecay.contains("encoder.patch_embed.weight"))
        XCTAssertFalse(noDecay.contains("encoder.blocks.0.mlp.fc1.weight"))
    }
}

final class SafetensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRoundTripIsBitIdentical() throws {
        var rng = PRNG(seed: 1)
        let a = Tensor(shape: [3, 4, 5]); rng.fillNormal(a, std: 1)
        a[0] = .infinity; a[1] = -0.0; a[2] = .leastNonzeroMagnitude
        var f = SafetensorsFile(tensors: ["a": a, "b.c": Tensor(scalar: 2.5)], metadata: ["config": "{\"x\": 1}"])
        f.integers["labels"] = ([3], [1, -2, 7])
        let path = dir.appendingPathComponent("x.safetensors").path
        try f.write(to: path)
        let g = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(g.tensors["a"]!.shape, [3, 4, 5])
        XCTAssertEqual(g.tensors["a"]!.array.map(\.bitPattern), a.array.map(\.bitPattern))
        XCTAssertEqual(g.tensors["b.c"]!.shape, [])
        XCTAssertEqual(g.integers["labels"]!.values, [1, -2, 7])
        XCTAssertEqual(g.metadata["config"], "{\"x\": 1}")
        // No temp file left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.safetensors"])
    }

    /// A file written the way the Python library writes one: F64 and I64 tensors.
    func testReadsOtherDtypes() throws {
        let header = #"{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"i":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},"h":{"dtype":"F16","shape":[1],"data_offsets":[24,26]}}"#
        var data = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for v in [1.5, -2.25] { var b = v.bitPattern.littleEndian; withUnsafeBytes(of: &b) { data.append(contentsOf: $0) } }
        var i = Int64(42).littleEndian; withUnsafeBytes(of: &i) { data.append(contentsOf: $0) }
        var h = UInt16(0x3C00).littleEndian; withUnsafeBytes(of: &h) { data.append(contentsOf: $0) }  // 1.0
        let path = dir.appendingPathComponent("py.safetensors").path
        try data.write(to: URL(fileURLWithPath: path))
        let f = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(f.tensors["d"]!.array, [1.5, -2.25])
        XCTAssertEqual(f.integers["i"]!.values, [42])
        XCTAssertEqual(f.tensors["h"]!.array, [1.0])
    }

    func testMalformedFilesNameTheProblem() throws {
        let path = dir.appendingPathComponent("bad.safetensors").path
        for (bytes, expect) in [(Data([1, 2, 3]), "shorter than"),
                                (Data([200, 0, 0, 0, 0, 0, 0, 0, 123]), "header length"),
                                (Data([2, 0, 0, 0, 0, 0, 0, 0]) + Data("{]".utf8), "not valid JSON")] {
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafetensorsFile(contentsOf: path)) { e in
                XCTAssert("\(e)".contains(expect), "\(e)")
                XCTAssert("\(e)".contains("bad.safetensors"), "\(e)")
            }
        }
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: dir.appendingPathComponent("none").path)) { e in
            XCTAssert("\(e)".contains("cannot read"), "\(e)")
        }
    }
}
