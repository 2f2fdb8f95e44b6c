import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// MaskAlign from a run config: a teacher made in-harness (an MAE run's encoder, named by
/// run id) and a timm-style checkpoint (named by path), the run end to end, the teacher in
/// the run id, and one-line errors naming the file and the field.
final class MaskAlignRunTests: XCTestCase {
    static let tiny = """
    data: {pool_size: 128, finetune_size: 64, test_size: 64}
    encoder: {preset: vit-nano}
    mask: {patch: 4, ratio: 0.75}
    pretrain: {epochs: 1, batch: 32}
    finetune: {epochs: 1, batch: 32}
    linprobe: {epochs: 1, batch: 32}
    """

    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-maskalign-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    func config(_ overrides: [String]) throws -> RunConfig {
        try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: ["method=maskalign"] + overrides)
    }

    /// A random ViT in timm's layout (class token; `pos_embed` with the class token's row).
    @discardableResult
    func writeTimmTeacher(_ name: String, dim: Int = 24, seed: UInt64 = 1, heads: String? = "2") throws -> String {
        let vit = ViTConfig(imageSize: 32, patchSize: 4, dim: dim, depth: 3, heads: 2)
        let enc = ViTEncoder(vit, options: ViTOptions(classToken: true, position: .learned))
        var rng = PRNG(seed: seed)
        for p in enc.parameters { rng.fillNormal(p.value, std: 0.2) }
        var tensors: [String: Tensor] = [:]
        for p in enc.parameters { tensors[MaskAlign.officialName(p.name)] = p.value }
        tensors["pos_embed"] = Tensor(shape: [1, 1 + vit.tokens, dim], values: [Float](repeating: 0, count: dim) + enc.posEmbed!.value.array)
        let file = path(name)
        try SafetensorsFile(tensors: tensors, metadata: heads.map { ["num_heads": $0] } ?? [:]).write(to: file)
        return file
    }

    func assertError(_ overrides: [String], mentions words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try config(overrides), file: file, line: line) { e in
            let s = "\(e)"
            XCTAssertFalse(s.contains("\n"), s, file: file, line: line)
            for w in words { XCTAssert(s.contains(w), "'\(w)' not in: \(s)", file: file, line: line) }
        }
    }

    /// An MAE run's encoder as the teacher (by run id, as `mimlab run --out runs/<id>` keeps
    /// it): MaskAlign pre-trains, probes and fine-tunes; the teacher's id is in the config.
    func testMaskAlignRunsEveryPhaseWithAnMAETeacher() throws {
        let mae = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml",
                                      overrides: ["method=mae", "mae.decoder_width=32", "linprobe.epochs=0", "finetune.epochs=0"])
        let id = String(SHA256.hex(Array(mae.canonicalJSON().utf8)).prefix(16))
        let runs = path("runs")
        // Named by run id, the student's identity is known before its teacher exists.
        let before = try config(["maskalign.teacher=\(id)", "maskalign.teacher_runs=\(runs)", "maskalign.levels=2"])
        XCTAssertNil(before.maskalign?.teacherShape)
        XCTAssertThrowsError(try MaskAlignRecipe.make(before, data: nil)) { e in
            XCTAssert("\(e)".contains("\(runs)/\(id)/pretrain.safetensors: no such file (maskalign.teacher)"), "\(e)")
        }
        try FileManager.default.createDirectory(atPath: runs + "/" + id, withIntermediateDirectories: true)
        _ = try Run(config: mae, outputDir: runs + "/" + id).execute(try RunDataFactory.make(mae, cacheDir: path("cache")))
        let c = try config(["maskalign.teacher=\(id)", "maskalign.teacher_runs=\(runs)", "maskalign.levels=2"])
        XCTAssertEqual(c.canonicalJSON(), before.canonicalJSON())
        XCTAssertEqual(c.maskalign?.teacher, "run:\(id)")
        XCTAssertEqual(c.maskalign?.teacherShape, TeacherShape(dim: 48, depth: 2, hidden: 192, classToken: true))
        XCTAssertFalse(c.canonicalJSON().contains(runs), "the teacher's path is not part of the run's identity")
        let r = try Run(config: c, outputDir: nil).execute(try RunDataFactory.make(c, cacheDir: path("cache")))
        for key in ["pretrain.loss", "pretrain.gflop", "linprobe.top1", "finetune.top1"] {
            XCTAssert(r[key]?.isFinite == true, "\(key): \(r.values)")
        }
        XCTAssertGreaterThan(r["pretrain.loss"]!, 0)
        // AvgDist of the attentive masks the run drew, not of a mask spec.
        let random = try Run(config: try config(["maskalign.teacher=\(id)", "maskalign.teacher_runs=\(runs)", "maskalign.levels=2",
                                                 "maskalign.masking=random", "linprobe.epochs=0", "finetune.epochs=0"]), outputDir: nil)
            .execute(try RunDataFactory.make(c, cacheDir: path("cache")))
        XCTAssert(r["avgdist"]!.isFinite && random["avgdist"]!.isFinite)
        XCTAssertNotEqual(r["avgdist"], random["avgdist"])
    }

    /// A timm-style checkpoint by path, every alignment, adapter and masking: a step runs and
    /// its loss is finite; the teacher's file hash is in the config, so a different teacher is
    /// a different run.
    func testTimmTeacherByPathEveryVariant() throws {
        let a = try writeTimmTeacher("a.safetensors"), b = try writeTimmTeacher("b.safetensors", seed: 2)
        let ca = try config(["maskalign.teacher=\(a)", "maskalign.levels=3"]), cb = try config(["maskalign.teacher=\(b)", "maskalign.levels=3"])
        XCTAssert(ca.maskalign!.teacher.hasPrefix("sha256:"))
        XCTAssertNotEqual(ca.canonicalJSON(), cb.canonicalJSON())
        XCTAssertFalse(ca.canonicalJSON().contains(a), "the path is not the teacher's identity")
        assertError(["maskalign.teacher=\(a)"], mentions: [a, "maskalign.levels = 5", "depth 3"])
        for o in [["maskalign.alignment=layerwise", "maskalign.levels=2"], ["maskalign.adapter=norm-linear"],
                  ["maskalign.adapter=mlp", "maskalign.masking=random"]] {
            let c = try config(["maskalign.teacher=\(a)", "maskalign.levels=2"] + o)
            let m = try oneStep(c)
            XCTAssert(m.loss.isFinite, "\(o)")
            XCTAssertEqual(m.model.masking?.idsKeep.count, 2 * 16)
        }
    }

    /// Done-when 4: a missing, unreadable or mis-shaped teacher, or one of another width than
    /// the adapters expect: one line naming the file and the field.
    func testTeacherErrorsNameTheFileAndTheField() throws {
        let missing = path("nowhere.safetensors")
        assertError(["maskalign.teacher=\(missing)"], mentions: [missing, "maskalign.teacher", "no such file"])
        let garbage = path("garbage.safetensors")
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: garbage))
        assertError(["maskalign.teacher=\(garbage)"], mentions: [garbage, "maskalign.teacher", "safetensors"])
        let noHeads = try writeTimmTeacher("noheads.safetensors", heads: nil)
        assertError(["maskalign.teacher=\(noHeads)"], mentions: [noHeads, "num_heads"])
        let t = try writeTimmTeacher("t.safetensors")
        assertError(["maskalign.teacher=\(t)", "maskalign.teacher_dim=32", "maskalign.levels=2"], mentions: [t, "maskalign.teacher_dim", "24"])
        assertError(["maskalign.teacher=\(t)", "maskalign.levels=4"], mentions: ["maskalign.levels", "depth 3"])
        assertError([], mentions: ["maskalign.teacher is required"])
        assertError(["maskalign.teacher=\(t)", "maskalign.levels=2", "head.type=mlp2"], mentions: ["head.type", "method maskalign"])
        assertError(["maskalign.teacher=\(t)", "maskalign.levels=2", "mask.patch=8"], mentions: ["mask.patch", "method maskalign"])
        // The checkpoint changed width after the config was read: the adapters expect 24.
        let c = try config(["maskalign.teacher=\(t)", "maskalign.levels=2", "maskalign.teacher_dim=24"])
        try writeTimmTeacher("t.safetensors", dim: 32)
        XCTAssertThrowsError(try MaskAlignRecipe.make(c, data: nil)) { e in
            XCTAssert("\(e)".contains(t) && "\(e)".contains("patch_embed.proj.weight") && "\(e)".contains("teacher_dim"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: t)
        XCTAssertThrowsError(try MaskAlignRecipe.make(c, data: nil)) { e in XCTAssert("\(e)".contains(t), "\(e)") }
    }

    /// MaskAlign's 0% row: every patch visible (AvgDist 0); other methods still need masks.
    func testZeroMaskRatioIsMaskAlignOnly() throws {
        let t = try writeTimmTeacher("t.safetensors")
        let c = try config(["maskalign.teacher=\(t)", "maskalign.levels=3", "mask.ratio=0", "linprobe.epochs=0", "finetune.epochs=0"])
        XCTAssertEqual(c.mask.ratio, 0)
        let m = try MaskAlignRecipe.make(c, data: nil) as! MaskAlign
        XCTAssertEqual(m.kept, 64)
        let r = try Run(config: c, outputDir: nil).execute(try RunDataFactory.make(c, cacheDir: path("cache")))
        XCTAssertEqual(r["avgdist"], 0)
        XCTAssert(r["pretrain.loss"]!.isFinite)
        XCTAssertThrowsError(try RunConfig.parse(yaml: Self.tiny, overrides: ["method=mae", "mask.ratio=0"])) { e in
            XCTAssert("\(e)".contains("mask.ratio = 0"), "\(e)")
        }
    }

    /// `method: supervised` (the pool's labels) makes a teacher in-harness, named by run id.
    func testSupervisedTeacher() throws {
        let sup = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml",
                                      overrides: ["method=supervised", "mask.patch=8", "mask.ratio=0.6", "linprobe.epochs=0", "finetune.epochs=0"])
        let id = String(SHA256.hex(Array(sup.canonicalJSON().utf8)).prefix(16))
        let runs = path("runs")
        try FileManager.default.createDirectory(atPath: runs + "/" + id, withIntermediateDirectories: true)
        let r = try Run(config: sup, outputDir: runs + "/" + id).execute(try RunDataFactory.make(sup, cacheDir: path("cache")))
        XCTAssert(r["pretrain.loss"]!.isFinite && r["pretrain.loss"]! > 0)
        let c = try config(["maskalign.teacher=\(id)", "maskalign.teacher_runs=\(runs)", "maskalign.levels=2"])
        XCTAssertEqual(c.maskalign?.teacher, "run:\(id)")
        XCTAssertEqual(c.maskalign?.teacherShape?.classToken, true)
        XCTAssertThrowsError(try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml", overrides: ["method=supervised"])) { e in
            XCTAssert("\(e)".contains("mask.patch does nothing for method supervised"), "\(e)")
        }
    }

    /// A SimMIM run's encoder (no class token, learned position) by its run directory: the
    /// student's class token has no target and patches are ranked by the attention they receive.
    func testSimMIMRunAsTeacherByDirectory() throws {
        let simmim = try RunConfig.parse(yaml: Self.tiny, source: "tiny.yaml",
                                         overrides: ["mask.patch=8", "mask.ratio=0.6", "linprobe.epochs=0", "finetune.epochs=0"])
        let out = path("simmim")
        _ = try Run(config: simmim, outputDir: out).execute(try RunDataFactory.make(simmim, cacheDir: path("cache")))
        let c = try config(["maskalign.teacher=\(out)", "maskalign.levels=2"])
        XCTAssertEqual(c.maskalign?.teacherShape?.classToken, false)
        XCTAssertEqual(c.maskalign?.teacherPath, out + "/pretrain.safetensors")
        let m = try oneStep(c)
        XCTAssert(m.loss.isFinite)
        XCTAssertEqual(m.model.importance.count, 2 * 64)
    }

    /// The config's MaskAlign, initialised, after one step on two random 32-px images.
    func oneStep(_ c: RunConfig) throws -> (model: MaskAlign, loss: Double) {
        let m = try MaskAlignRecipe.make(c, data: nil) as! MaskAlign
        var rng = PRNG(seed: 0)
        m.initialize(&rng)
        m.drawMasks(batch: 2, &rng)
        let images = Tensor(shape: [2, 3, 32, 32])
        rng.fillNormal(images, std: 1)
        return (m, m.step(images, batch: 2))
    }
}
