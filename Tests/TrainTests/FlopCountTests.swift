import Foundation
import MIM
import NN
import Tensor
import Train
import XCTest

/// The analytic FLOP counts (cost model, `pretrain.gflop`, bench GFLOP/s) against a count
/// made from the tensors of a real forward pass: every Linear that ran (2·rows·in·out) and
/// every attention (q·kᵀ and p·v: 4·hd per probability), found by walking the model.
final class FlopCountTests: XCTestCase {
    /// Forward matmul FLOPs of the last forward pass of every layer reachable from `root`.
    static func measuredForward(_ root: AnyObject) -> Double {
        var seen = Set<ObjectIdentifier>(), total = 0.0
        func walk(_ value: Any) {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .class {
                let o = value as AnyObject
                guard seen.insert(ObjectIdentifier(o)).inserted, !(o is Tensor) else { return }
                if let l = o as? Linear { total += 2 * Double(l.output.count) * Double(l.inFeatures); return }
                if let a = o as? Attention { total += 4 * Double(a.headDim) * Double(a.probs.count) }
            }
            for child in mirror.children { walk(child.value) }
        }
        walk(root)
        return total
    }

    static let vit = ViTConfig(imageSize: 16, patchSize: 4, channels: 3, dim: 16, depth: 2, heads: 2)

    func testSimMIMEveryHeadAndTarget() throws {
        let pixels = PixelNormalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let palette = ColorPalette(colors: [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1], channels: 3)
        let B = 2
        var rng = PRNG(seed: 1)
        let images = Tensor(shape: [B, 3, 16, 16]); rng.fillNormal(images, std: 1)
        let mask = (0..<(B * Self.vit.tokens)).map { Float($0 % 2) }
        for head in HeadKind.allCases {
            for target in [PredictionTarget.l1, .normalizedPixel, .bins(8), .bins(256), .colorCluster(4)] {
                for res: Int? in [nil, 8] {
                    let s = SimMIMConfig(head: head, headDepth: 1, headWidth: 8, headHeads: 2, target: target, predResolution: res)
                    let m = try SimMIM(Self.vit, s, pixels: pixels, palette: palette)
                    m.initialize(&rng)
                    _ = m.forward(images, mask: mask, batch: B)
                    let measured = Self.measuredForward(m) / Double(B)
                    XCTAssertEqual(m.flopsPerImage.forward, measured, accuracy: 1e-9 * measured, "\(head) \(target) \(res ?? 16)")
                    let patch = 2 * Double(Self.vit.tokens * Self.vit.dim * 48)
                    XCTAssertEqual(m.flopsPerImage.train, 3 * measured - patch, accuracy: 1e-9 * measured)
                }
            }
        }
        // The heavier heads and targets cost more than the linear head at L1 (the old count's every case).
        let base = SimMIM.flopsPerImage(Self.vit, .official).forward
        XCTAssertGreaterThan(SimMIM.flopsPerImage(Self.vit, SimMIMConfig(head: .transformer)).forward, base)
        XCTAssertGreaterThan(SimMIM.flopsPerImage(Self.vit, SimMIMConfig(target: .bins(256))).forward, 2 * base)
    }

    /// MaskAlign: the student on the visible tokens, the adapters, the teacher's forward pass
    /// (measured), and the Dynamic Alignment mix (not a Linear: added by hand).
    func testMaskAlign() throws {
        let B = 2
        var rng = PRNG(seed: 3)
        let images = Tensor(shape: [B, 3, 16, 16]); rng.fillNormal(images, std: 1)
        let tvit = ViTConfig(imageSize: 16, patchSize: 4, channels: 3, dim: 24, depth: 3, heads: 2)
        for (alignment, adapter, cls) in [(AlignmentStrategy.layerwise, AdapterKind.mlp, true), (.dynamic, .linear, false)] {
            let teacher = ViTEncoder(tvit, options: ViTOptions(classToken: cls, position: .learned))
            teacher.initialize(&rng)
            var c = MaskAlignConfig()
            c.levels = 2; c.alignment = alignment; c.adapter = adapter
            let m = try MaskAlign(Self.vit, c, teacher: MaskAlignTeacher(teacher), maskRatio: 0.75)
            m.initialize(&rng)
            m.drawMasks(batch: B, &rng)
            _ = m.forward(images, batch: B)
            let mix = alignment == .dynamic ? 2.0 * 2 * Double(Self.vit.depth) * Double(1 + m.kept) * Double(Self.vit.dim) : 0
            let measured = Self.measuredForward(m) / Double(B) + mix
            XCTAssertEqual(m.flopsPerImage.forward, measured, accuracy: 1e-9 * measured, "\(alignment) \(adapter)")
            let teacherForward = Self.measuredForward(m.teacher) / Double(B)
            let patch = 2 * Double(Self.vit.tokens * Self.vit.dim * 48)
            XCTAssertEqual(m.flopsPerImage.train, 3 * (measured - teacherForward) - patch + teacherForward, accuracy: 1e-9 * measured)
        }
    }

    func testMAEAndFineTune() throws {
        let B = 2
        var rng = PRNG(seed: 2)
        let images = Tensor(shape: [B, 3, 16, 16]); rng.fillNormal(images, std: 1)
        for inEncoder in [false, true] {
            let mae = try MAE(Self.vit, MAEConfig(decoderDepth: 2, decoderWidth: 8, decoderHeads: 2, maskTokenInEncoder: inEncoder),
                              maskRatio: 0.75)
            mae.initialize(&rng)
            mae.drawMasks(batch: B, &rng)
            _ = mae.forward(images, batch: B)
            let measured = Self.measuredForward(mae) / Double(B)
            XCTAssertEqual(mae.flopsPerImage.forward, measured, accuracy: 1e-9 * measured, "mask token in encoder: \(inEncoder)")
        }
        // MAE's encoder on a quarter of the tokens costs less than SimMIM's on all of them.
        let c = try RunConfig.parse(yaml: "method: mae\nmask: {patch: 4, ratio: 0.75}")
        XCTAssertLessThan(MAERecipe.flopsPerImage(c).train, SimMIMRecipe.flopsPerImage(RunConfig()).train)
        let ft = FineTuneModel(encoder: ViTEncoder(Self.vit, options: .mae), classes: 10, pool: .cls)
        ft.encoder.initialize(&rng)
        var none: PRNG? = nil
        _ = ft.logits(images, batch: B, rng: &none)
        let measured = Self.measuredForward(ft) / Double(B)
        XCTAssertEqual(ft.flopsPerImage.forward, measured, accuracy: 1e-9 * measured)
    }
}
