import Foundation
import Data
import MIM
import Train
import XCTest

final class RunConfigTests: XCTestCase {
    func load(_ yaml: String, _ overrides: [String] = []) throws -> RunConfig {
        try RunConfig.parse(yaml: yaml, source: "spec.yaml", overrides: overrides)
    }

    func assertError(_ yaml: String, _ overrides: [String] = [], contains parts: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(yaml, overrides), file: file, line: line) { e in
            let s = "\(e)"
            XCTAssertFalse(s.contains("\n"), "not one line: \(s)", file: file, line: line)
            for p in parts { XCTAssert(s.contains(p), "'\(p)' not in: \(s)", file: file, line: line) }
        }
    }

    func testEmptyConfigIsTheDefault() throws {
        let c = try load("")
        XCTAssertEqual(c, RunConfig())
        XCTAssertEqual(c.mask.type, "random")
        XCTAssertEqual(c.mask.patch, 8)
        XCTAssertEqual(c.mask.ratio, 0.6)
        XCTAssertEqual(c.encoder.vit, .micro)
    }

    func testCommittedConfigsParse() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("experiments")
        let d = try RunConfig.load(path: dir.appendingPathComponent("tiny-default.yaml").path)
        XCTAssertEqual(d, RunConfig())     // the file spells out the defaults
        let s = try RunConfig.load(path: dir.appendingPathComponent("smoke.yaml").path)
        XCTAssertEqual(s.encoder.preset, "vit-nano")
    }

    func testOverrides() throws {
        let c = try load("mask: {ratio: 0.5}", ["mask.ratio=0.75", "pretrain.epochs=0", "head.type=mlp2"])
        XCTAssertEqual(c.mask.ratio, 0.75)
        XCTAssertEqual(c.pretrain.epochs, 0)
        XCTAssertEqual(c.head.type, "mlp2")
        assertError("", ["mask.ratio"], contains: ["--set mask.ratio", "key.path=value"])
    }

    func testBadValuesNameFieldLineAndValidValues() {
        assertError("mask:\n  ratio: 1.5\n", contains: ["spec.yaml:2", "mask.ratio = 1.5", "(0, 1)"])
        assertError("mask:\n  ratio: 0\n", contains: ["mask.ratio = 0"])
        assertError("mask:\n  patch: 12\n", contains: ["spec.yaml:2", "mask.patch = 12", "valid: 4, 8, 16, 32"])
        assertError("mask:\n  type: checker\n", contains: ["mask.type = checker", "random, square, block-wise"])
        assertError("head:\n  type: huge\n", contains: ["head.type = huge", "linear, mlp2, transformer"])
        assertError("target:\n  type: bins-7\n", contains: ["target.type = bins-7", "bins-8, bins-256", "color-cluster-K"])
        assertError("head:\n  type: transformer\n  width: 130\n", contains: ["head.width = 130", "head.heads = 4"])
        assertError("target:\n  pred_resolution: 12\n", contains: ["target.pred_resolution = 12", "valid: 8, 16, 32"])
        assertError("data:\n  dataset: imagenet\n", contains: ["data.dataset = imagenet", "synthetic, cifar10, cifar100"])
        assertError("data:\n  dataset: cifar10\n", contains: ["needs data.path"])
        assertError("encoder:\n  preset: vit-huge\n", contains: ["encoder.preset = vit-huge", "vit-micro"])
        assertError("encoder:\n  heads: 5\n", contains: ["encoder.dim = 128", "encoder.heads = 5"])
        assertError("pretrain:\n  epochs: two\n", contains: ["pretrain.epochs = two", "whole number"])
        assertError("data:\n  classes: 9\n", contains: ["spec.yaml:2", "data.classes = 9", "10 to 12"])
        assertError("method: beit\n", contains: ["method = beit", "valid values are mae, maskalign, simmim, supervised"])
        assertError("data:\n  synthetic_version: 4\n", contains: ["spec.yaml:2", "data.synthetic_version = 4",
                                                                   "version \(SyntheticSpec.generatorVersion) only"])
        assertError("data:\n  dataset: cifar10\n  path: /tmp\n  synthetic_version: 5\n",
                    contains: ["data.synthetic_version applies to data.dataset = synthetic only"])
    }

    func testUnknownKeysAndMalformedYAML() {
        assertError("mask:\n  ratoi: 0.5\n", contains: ["spec.yaml:2", "unknown key 'mask.ratoi'", "type, patch, ratio"])
        assertError("mask_ratio: 0.5\n", contains: ["unknown key 'mask_ratio'", "valid keys in the top level"])
        assertError("mask: [1, 2\n", contains: ["spec.yaml", "not valid YAML"])
        assertError("- a\n- b\n", contains: ["top level must be a mapping"])
        assertError("mask:\n  ratio: 0.5\n  ratio: 0.6\n", contains: ["spec.yaml:3:", "duplicate key", "'ratio'"])
        XCTAssertThrowsError(try RunConfig.load(path: "/nonexistent/run.yaml")) { e in
            XCTAssert("\(e)".contains("/nonexistent/run.yaml: cannot read file"), "\(e)")
        }
    }

    func testCanonicalJSONIsStable() throws {
        let a = try load("mask: {ratio: 0.6, patch: 8}\nseed: 3")
        let b = try load("seed: 3\nmask: {patch: 8}")
        XCTAssertEqual(a.canonicalJSON(), b.canonicalJSON())
        XCTAssertNotEqual(a.canonicalJSON(), try load("seed: 4").canonicalJSON())
    }

    /// A new synthetic drawing is new data, so it must be a new run id: the drawing's version
    /// is in the canonical config of synthetic runs, and absent from CIFAR runs.
    func testSyntheticDrawingVersionIsPartOfTheRunIdentity() throws {
        let synthetic = try load("seed: 0")
        XCTAssertEqual(synthetic.data.syntheticVersion, SyntheticSpec.generatorVersion)
        XCTAssert(synthetic.canonicalJSON().contains("\"synthetic_version\":\(SyntheticSpec.generatorVersion)"),
                  synthetic.canonicalJSON())
        XCTAssertEqual(synthetic, try load("data: {synthetic_version: \(SyntheticSpec.generatorVersion)}"))
        let cifar = try load("data: {dataset: cifar10, path: /tmp}")
        XCTAssertNil(cifar.data.syntheticVersion)
        XCTAssertFalse(cifar.canonicalJSON().contains("synthetic_version"), cifar.canonicalJSON())
    }

    /// What YAML can do that a config never needs is refused at its line: anchors and
    /// aliases (an alias "bomb" expands exponentially), tags, duplicate keys.
    func testYAMLAnchorsAliasesTagsAndDuplicatesAreRefusedWithTheirLine() {
        assertError("pretrain: &p {epochs: 1}\nfinetune: *p\n", contains: ["spec.yaml:1:", "anchors and aliases"])
        assertError("seed: 1\ndata: &d {pool_size: 512}\n", contains: ["spec.yaml:2:", "&d"])
        assertError("seed: !!binary aGVsbG8=\n", contains: ["spec.yaml:1:", "tags"])
        assertError("data: !!map {pool_size: 512}\n", contains: ["spec.yaml:1:", "tags"])
        assertError("seed: 1\nmask: {ratio: 0.5}\nseed: 2\n", contains: ["spec.yaml:", "duplicate key 'seed'"])
        assertError("", ["mask.ratio=&a 0.5"], contains: ["--set mask.ratio=&a 0.5", "anchors"])
        XCTAssertNoThrow(try load("data: {dataset: synthetic}\nmask: {type: 'random'}\n"), "quoted values are plain values")
    }

    /// Sizes a person can type are bounded before any work starts, with the field and bound.
    func testSizesAreBounded() {
        assertError("", ["data.image_size=100000000000000"], contains: ["data.image_size", "at most 1024"])
        assertError("", ["pretrain.epochs=1000000000000"], contains: ["pretrain.epochs", "at most 10000"])
        assertError("", ["target.type=color-cluster-100000000"], contains: ["target.type", "at most 4096"])
        assertError("", ["encoder.dim=100000000"], contains: ["encoder.dim", "at most 4096"])
        assertError("data: {pool_size: 64}\npretrain: {batch: 128}\n", contains: ["pretrain.batch = 128", "data.pool_size = 64"])
        assertError("", ["mask=3"], contains: ["mask is a section", "mask.type"])
        assertError("", ["..=1"], contains: ["--set ..=1", "not a key path"])
    }

    /// Settings a phase accepts but never reads are refused unless they say "off".
    func testSettingsThatDoNothingAreRefused() throws {
        for (key, value, off) in [("pretrain.drop_path", "0.1", "0"), ("pretrain.layer_decay", "0.75", "1"),
                                  ("pretrain.label_smoothing", "0.1", "0"), ("linprobe.clip_grad", "5", "0"),
                                  ("linprobe.layer_decay", "0.5", "1"), ("linprobe.label_smoothing", "0.1", "0"),
                                  ("linprobe.drop_path", "0.1", "0")] {
            let parts = key.split(separator: ".").map(String.init)
            assertError("\(parts[0]):\n  \(parts[1]): \(value)\n", contains: ["spec.yaml:2", "\(key) = ", "does nothing", "valid: \(off)"])
            // The off value is the default: accepted, the same config.
            XCTAssertEqual(try load("\(parts[0]):\n  \(parts[1]): \(off)\n"), RunConfig())
        }
        // The fine-tune phase uses all of them.
        XCTAssertEqual(try load("finetune: {drop_path: 0.2, layer_decay: 0.6, label_smoothing: 0.2}").finetune.dropPath, 0.2)
    }

    func testMAESection() throws {
        let c = try load("method: mae\nmask: {patch: 4, ratio: 0.75}\nmae: {decoder_depth: 1, decoder_width: 32, norm_pix: false, pool: cls}")
        XCTAssertEqual(c.mae, MAEConfig(decoderDepth: 1, decoderWidth: 32, normPix: false, pool: .cls))
        XCTAssertNil(try load("").mae)
        XCTAssertEqual(try load("method: mae\nmask: {patch: 4}").mae, MAEConfig())
        assertError("mae: {decoder_depth: 2}\n", contains: ["spec.yaml:1", "the mae section applies to method: mae only, not simmim"])
        assertError("method: mae\n", contains: ["mask.patch = 8", "set mask.patch = 4"])
        assertError("pretrain: {base_lr: 1e12}\n", contains: ["pretrain.base_lr = 1e12", "valid: 0 < pretrain.base_lr < 1e+12"])
        assertError("method: mae\nmask: {patch: 4, type: square}\n", contains: ["mask.type = square", "valid: random, block-wise, grid"])
        XCTAssertEqual(try load("method: mae\nmask: {patch: 4, type: grid, ratio: 0.75}").maskSpec.type, .grid)
        assertError("method: mae\nmask: {patch: 4, type: grid, ratio: 0.6}\n", contains: ["spec.yaml:2", "mask.ratio = 0.6", "valid: 0.75"])
        assertError("method: mae\nmask: {patch: 4}\nhead: {type: mlp2}\n", contains: ["spec.yaml:3", "head.type is a SimMIM setting"])
        assertError("method: mae\nmask: {patch: 4}\ntarget: {type: l2}\n", contains: ["target.type is a SimMIM setting", "mae.norm_pix"])
        assertError("method: mae\nmask: {patch: 4}\nmae: {decoder_width: 30}\n", contains: ["mae.decoder_width = 30", "multiple of 4"])
        assertError("method: mae\nmask: {patch: 4}\nmae: {pool: max}\n", contains: ["mae.pool = max", "mean, cls"])
        assertError("method: mae\nmask: {patch: 4}\nmae: {depth: 2}\n", contains: ["unknown key 'mae.depth'", "decoder_depth"])
    }
}
