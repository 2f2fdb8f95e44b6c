import Data
import Foundation
import MIM
import NN
import Tensor
import XCTest

/// SimMIM's head / target / loss / prediction-resolution axes (paper Tables 2–4).
final class HeadTargetTests: XCTestCase {
    /// 8×8 images, 4×4 patches: a 2×2 token grid, so valid prediction resolutions are 2, 4, 8.
    static let tiny = ViTConfig(imageSize: 8, patchSize: 4, channels: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2)
    static let pixels = PixelNormalization(mean: [0.5, 0.45, 0.4], std: [0.25, 0.2, 0.3])
    static let palette4 = ColorPalette(colors: [0.1, 0.1, 0.1, 0.9, 0.2, 0.2, 0.2, 0.8, 0.3, 0.7, 0.7, 0.9], channels: 3)

    static func images(batch: Int, config c: ViTConfig, seed: UInt64) -> Tensor {
        var rng = PRNG(seed: seed)
        let t = Tensor(shape: [batch, c.channels, c.imageSize, c.imageSize])
        rng.fillNormal(t, std: 1)
        return t
    }

    static func model(_ s: SimMIMConfig, seed: UInt64 = 11, vit: ViTConfig = tiny) throws -> SimMIM {
        let palette: ColorPalette? = {
            if case .colorCluster(let k) = s.target {
                var rng = PRNG(seed: 3)
                return ColorPalette(colors: (0..<(k * 3)).map { _ in rng.uniform() }, channels: 3)
            }
            return nil
        }()
        let m = try SimMIM(vit, s, pixels: pixels, palette: palette)
        var rng = PRNG(seed: seed)
        for p in m.parameters { rng.fillNormal(p.value, std: 0.3) }
        return m
    }

    /// Finite differences of the whole loss against backward, for every parameter.
    func checkGradients(_ s: SimMIMConfig, kinked: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try Self.model(s)
        let images = Self.images(batch: 2, config: Self.tiny, seed: 5)
        let mask: [Float] = [1, 0, 1, 1, 0, 1, 0, 1]
        // L1-like losses have kinks: a residual crossing zero within ±h moves the quotient by
        // about 1/N, so a small step and an absolute floor (as TrainingTests).
        // Smooth losses: the forward runs in Float, so the quotient carries rounding noise of
        // about 1e-7·|loss|/h ≈ 1e-5 at h = 1e-2, more through a transformer head's extra
        // norms; entries of the encoder's first layer come out near that size, hence the floor.
        var check = kinked ? GradientCheck(step: 1e-3, tolerance: 5e-2) : GradientCheck(step: 1e-2, tolerance: 3e-2)
        check.floor = kinked ? 1e-3 : 1e-4
        let r = check.run(parameters: model.parameters,
                          loss: { model.forward(images, mask: mask, batch: 2) }, backward: { model.backward() })
        XCTAssert(r.mismatches.isEmpty, "\(s.head) \(s.target) r=\(s.predResolution ?? 8): \(r.mismatches.prefix(4))", file: file, line: line)
        XCTAssertGreaterThan(r.checked, 40, file: file, line: line)
    }

    func testGradientsOfEveryHead() throws {
        for head in HeadKind.allCases {
            try checkGradients(SimMIMConfig(head: head, headDepth: 1, headWidth: 8, headHeads: 2, target: .l2), kinked: false)
            try checkGradients(SimMIMConfig(head: head, headDepth: 1, headWidth: 8, headHeads: 2, target: .bins(8),
                                            predResolution: 4), kinked: false)
        }
    }

    func testGradientsOfEveryTarget() throws {
        let smooth: [PredictionTarget] = [.l2, .normalizedPixel, .bins(8), .bins(256), .colorCluster(5)]
        for t in smooth {
            try checkGradients(SimMIMConfig(target: t), kinked: false)
            try checkGradients(SimMIMConfig(target: t, predResolution: 4, lossOn: .all), kinked: false)
        }
        for t in [PredictionTarget.l1, .smoothL1] {
            try checkGradients(SimMIMConfig(target: t), kinked: true)
            try checkGradients(SimMIMConfig(target: t, predResolution: 2, lossOn: .all), kinked: true)
        }
    }

    func testBinsRoundTrip() {
        for k in [8, 256] {
            let bins = ChannelBins(k)
            for b in 0..<k { XCTAssertEqual(bins.bin(bins.center(b)), b) }
            var rng = PRNG(seed: 1)
            for _ in 0..<1000 {
                let v = rng.uniform()
                let c = bins.center(bins.bin(v))
                XCTAssertEqual(c, (Float(Int(v * Float(k))) + 0.5) / Float(k))
                XCTAssertLessThanOrEqual(abs(c - v), 0.5 / Float(k) + 1e-6)
            }
            XCTAssertEqual(bins.bin(-0.3), 0)
            XCTAssertEqual(bins.bin(1), k - 1)
            XCTAssertEqual(bins.bin(1.7), k - 1)
        }
        // 256 bins: each 8-bit value is its own class.
        let b256 = ChannelBins(256)
        XCTAssertEqual((0..<256).map { b256.bin(Float($0) / 255) }, Array(0..<256))
    }

    func testPaletteColourMapsToItself() {
        let p = Self.palette4
        for i in 0..<p.count { XCTAssertEqual(p.nearest(p.color(i)), i) }
        XCTAssertEqual(p.nearest([0.15, 0.12, 0.05]), 0)
        XCTAssertEqual(p.nearest([0.3, 0.75, 0.95]), 3)
    }

    /// Bin and cluster classes of the loss are those of the (pooled) raw colours, and the
    /// reconstruction de-quantises the argmax to a bin centre / palette colour.
    func testClassificationTargetsAndTheirReconstruction() throws {
        let vit = Self.tiny, norm = Self.pixels
        let images = Self.images(batch: 1, config: vit, seed: 8)
        let mask: [Float] = [1, 1, 1, 1]
        for (target, r) in [(PredictionTarget.bins(8), 4), (.colorCluster(4), 8)] {
            let m = try SimMIM(vit, SimMIMConfig(target: target, predResolution: r), pixels: norm, palette: Self.palette4)
            var rng = PRNG(seed: 2)
            for p in m.parameters { rng.fillNormal(p.value, std: 0.5) }
            _ = m.forward(images, mask: mask, batch: 1)
            let f = vit.imageSize / r, g = vit.grid, s = r / g
            // Brute force: pool raw colours straight from the image.
            func rawPooled(_ c: Int, _ y: Int, _ x: Int) -> Float {
                var sum: Float = 0
                for a in 0..<f { for b in 0..<f { sum += images[(c * 8 + y * f + a) * 8 + x * f + b] } }
                return norm.raw(sum / Float(f * f), channel: c)
            }
            let rec = m.reconstruction()
            XCTAssertEqual(rec.shape, [1, 3, r, r])
            for y in 0..<r { for x in 0..<r {
                let token = (y / s) * g + x / s, q = (y % s) * s + x % s
                switch target {
                case .bins:
                    for c in 0..<3 {
                        XCTAssertEqual(Int(m.loss.classes[(token * 3 + c) * s * s + q]), ChannelBins(8).bin(rawPooled(c, y, x)))
                        let back = norm.raw(rec[(c * r + y) * r + x], channel: c)
                        XCTAssertEqual(back, ChannelBins(8).center(ChannelBins(8).bin(back)), accuracy: 1e-5)
                    }
                default:
                    let colour = (0..<3).map { rawPooled($0, y, x) }
                    XCTAssertEqual(Int(m.loss.classes[token * s * s + q]), Self.palette4.nearest(colour))
                    let back = (0..<3).map { norm.raw(rec[($0 * r + y) * r + x], channel: $0) }
                    let i = Self.palette4.nearest(back)
                    for c in 0..<3 { XCTAssertEqual(back[c], Self.palette4.color(i)[c], accuracy: 1e-5) }
                }
            } }
        }
    }

    func testKMeansIsDeterministicAndRecoversSeparatedClusters() throws {
        let truth: [[Float]] = [[0.1, 0.1, 0.1], [0.9, 0.1, 0.2], [0.2, 0.8, 0.3], [0.5, 0.5, 0.95], [0.9, 0.9, 0.6]]
        var rng = PRNG(seed: 4)
        var pixels: [Float] = []
        for i in 0..<6000 {
            // Unequal cluster sizes, so k-means++ matters.
            let c = truth[i % 7 < 3 ? 0 : (i % 7) - 2]
            for ch in 0..<3 { pixels.append(c[ch] + rng.normal(std: 0.02)) }
        }
        let a = ColorPalette.fit(pixels: pixels, k: 5, seed: 9, sampleSize: 2000)
        let b = ColorPalette.fit(pixels: pixels, k: 5, seed: 9, sampleSize: 2000)
        XCTAssertEqual(a, b)
        let c = ColorPalette.fit(pixels: pixels, k: 5, seed: 10, sampleSize: 2000)
        XCTAssertNotEqual(a.colors, c.colors)   // another sample and seeding
        for p in [a, c] {
            var used = Set<Int>()
            for t in truth {
                let i = p.nearest(t)
                used.insert(i)
                for ch in 0..<3 { XCTAssertEqual(p.color(i)[ch], t[ch], accuracy: 0.01) }
            }
            XCTAssertEqual(used.count, 5, "each true cluster has its own palette colour")
        }
        // From a pool of images: two flat-colour images, one of them twice as often.
        var bytes: [UInt8] = []
        for (label, rgb) in [(0, [200, 10, 10]), (1, [10, 10, 240]), (0, [200, 10, 10])] as [(UInt8, [UInt8])] {
            bytes.append(label)
            for c in rgb { bytes += [UInt8](repeating: c, count: 16) }
        }
        let pool = try ImageDataset(bytes: bytes, imageSize: 4, numClasses: 2, name: "pool")
        let fromPool = ColorPalette.fit(dataset: pool, k: 2, seed: 1, samples: 300)
        XCTAssertEqual(fromPool, ColorPalette.fit(dataset: pool, k: 2, seed: 1, samples: 300))
        XCTAssertEqual(Set(fromPool.colors.map { ($0 * 255).rounded() }), [200, 10, 240])
        // Fewer distinct colours than k: no crash, repeated colours.
        let few = ColorPalette.fit(pixels: [0, 0, 0, 1, 1, 1, 0, 0, 0], k: 3, seed: 1)
        XCTAssertEqual(few.count, 3)
        XCTAssertEqual(Set(few.colors), [0, 1])
    }

    func testPredResolutionShrinksTheHeadOutput() throws {
        let vit = ViTConfig(imageSize: 32, patchSize: 4, channels: 3, dim: 16, depth: 1, heads: 2)
        XCTAssertEqual(SimMIMConfig.validPredResolutions(for: vit), [8, 16, 32])
        let cases: [(PredictionTarget, Int?, Int)] = [
            (.l1, nil, 48), (.l1, 32, 48), (.l1, 16, 12), (.l1, 8, 3),
            (.bins(8), 16, 4 * 3 * 8), (.bins(256), 8, 3 * 256), (.colorCluster(512), 8, 512), (.colorCluster(16), 32, 16 * 16),
        ]
        for (target, r, outputs) in cases {
            for head in HeadKind.allCases {
                let s = SimMIMConfig(head: head, headDepth: 1, headWidth: 16, headHeads: 2, target: target, predResolution: r)
                XCTAssertEqual(s.outputsPerToken(for: vit), outputs)
                let palette = target.classes > 0 ? ColorPalette(colors: [Float](repeating: 0.5, count: target.classes * 3), channels: 3) : nil
                let m = try SimMIM(vit, s, pixels: Self.pixels, palette: palette)
                XCTAssertEqual(m.head.outputsPerToken, outputs)
                XCTAssertEqual(m.decoder.outFeatures, outputs)
                if head == .linear { XCTAssertEqual(m.decoder.weight.value.shape, [outputs, 16, 1, 1]) }
            }
        }
        // The forward pass yields that many values per token, and the pooled target is the
        // brute-force average of the image.
        let m = try SimMIM(vit, SimMIMConfig(predResolution: 8))
        let images = Self.images(batch: 2, config: vit, seed: 3)
        _ = m.forward(images, mask: [Float](repeating: 1, count: 128), batch: 2)
        XCTAssertEqual(m.prediction.shape, [128, 3])
        XCTAssertEqual(m.reconstruction().shape, [2, 3, 8, 8])
        for b in 0..<2 { for c in 0..<3 { for i in 0..<8 { for j in 0..<8 {
            var sum: Float = 0
            for y in 0..<4 { for x in 0..<4 { sum += images[((b * 3 + c) * 32 + i * 4 + y) * 32 + j * 4 + x] } }
            XCTAssertEqual(m.loss.targetRows[(b * 64 + i * 8 + j) * 3 + c], sum / 16, accuracy: 1e-5)
        } } } }
        let m16 = try SimMIM(vit, SimMIMConfig(predResolution: 16))
        _ = m16.forward(images, mask: [Float](repeating: 1, count: 128), batch: 2)
        // Token (1, 2) of image 1, channel 2, sub-pixel (1, 0): rows 6–7, columns 8–9.
        var sum: Float = 0
        for y in 6..<8 { for x in 8..<10 { sum += images[((1 * 3 + 2) * 32 + y) * 32 + x] } }
        XCTAssertEqual(m16.loss.targetRows[(64 + 1 * 8 + 2) * 12 + 2 * 4 + 1 * 2 + 0], sum / 4, accuracy: 1e-5)
    }

    /// Each loss against a direct transcription of its formula.
    func testLossValuesMatchTheirFormulas() throws {
        let vit = Self.tiny, norm = Self.pixels
        var rng = PRNG(seed: 6)
        let patches = Tensor(shape: [4, 48]); rng.fillNormal(patches, std: 1)
        let mask: [Float] = [1, 0, 0.5, 1]
        let g = Tensor(shape: [0])
        func run(_ s: SimMIMConfig, outputs: Int) throws -> (Double, Tensor) {
            let pred = Tensor(shape: [4, outputs]); var r = PRNG(seed: 7); r.fillNormal(pred, std: 1)
            let loss = try ReconstructionLoss(s, encoder: vit, pixels: norm, palette: Self.palette4)
            return (loss.forward(pred: pred, patches: patches, mask: mask, grad: g), pred)
        }
        let P = { (pred: Tensor, r: Int, k: Int) in Double(pred[r * 48 + k]) }
        let T = { (r: Int, k: Int) in Double(patches[r * 48 + k]) }
        // Official L1 (masked) and L1 on all pixels.
        do {
            let (l, pred) = try run(SimMIMConfig(), outputs: 48)
            var s = 0.0
            for r in 0..<4 { for k in 0..<48 { s += abs(P(pred, r, k) - T(r, k)) * Double(mask[r]) } }
            XCTAssertEqual(l, s / (2.5 * 16 + 1e-5) / 3, accuracy: 1e-6)
            let (la, _) = try run(SimMIMConfig(lossOn: .all), outputs: 48)
            var sa = 0.0
            for r in 0..<4 { for k in 0..<48 { sa += abs(P(pred, r, k) - T(r, k)) } }
            XCTAssertEqual(la, sa / (4 * 16 + 1e-5) / 3, accuracy: 1e-6)
        }
        // L2 and smooth-L1.
        do {
            let (l2, pred) = try run(SimMIMConfig(target: .l2), outputs: 48)
            let (sl1, _) = try run(SimMIMConfig(target: .smoothL1), outputs: 48)
            var s2 = 0.0, ss = 0.0
            for r in 0..<4 { for k in 0..<48 {
                let d = P(pred, r, k) - T(r, k)
                s2 += d * d * Double(mask[r])
                ss += (abs(d) < 1 ? 0.5 * d * d : abs(d) - 0.5) * Double(mask[r])
            } }
            XCTAssertEqual(l2, s2 / (2.5 * 16 + 1e-5) / 3, accuracy: 1e-5)
            XCTAssertEqual(sl1, ss / (2.5 * 16 + 1e-5) / 3, accuracy: 1e-5)
        }
        // MAE's normalised pixels: per-patch mean / unbiased variance, mean per patch, then
        // the weighted mean over patches.
        do {
            let (l, pred) = try run(SimMIMConfig(target: .normalizedPixel), outputs: 48)
            var s = 0.0
            for r in 0..<4 {
                let mean = (0..<48).map { T(r, $0) }.reduce(0, +) / 48
                let v = (0..<48).map { (T(r, $0) - mean) * (T(r, $0) - mean) }.reduce(0, +) / 47
                var patch = 0.0
                for k in 0..<48 { let d = P(pred, r, k) - (T(r, k) - mean) / (v + 1e-6).squareRoot(); patch += d * d }
                s += patch / 48 * Double(mask[r])
            }
            XCTAssertEqual(l, s / 2.5, accuracy: 1e-5)
        }
        // Bins-8 at r = 4 (s = 2): pooled, un-normalised, binned per channel; CE per channel
        // per pixel, mean over counted elements.
        do {
            let (l, pred) = try run(SimMIMConfig(target: .bins(8), predResolution: 4), outputs: 4 * 3 * 8)
            var s = 0.0
            for r in 0..<4 { for c in 0..<3 { for dy in 0..<2 { for dx in 0..<2 {
                var v = 0.0
                for a in 0..<2 { for b in 0..<2 { v += T(r, c * 16 + (dy * 2 + a) * 4 + dx * 2 + b) } }
                let cls = ChannelBins(8).bin(norm.raw(Float(v / 4), channel: c))
                let z = (0..<8).map { Double(pred[r * 96 + ((c * 4 + dy * 2 + dx) * 8) + $0]) }
                s += (log(z.map { exp($0) }.reduce(0, +)) - z[cls]) * Double(mask[r])
            } } } }
            XCTAssertEqual(l, s / ((2.5 * 4 + 1e-5) * 3), accuracy: 1e-5)
        }
        // Colour clusters at r = 2 (s = 1): one CE per pixel over the palette.
        do {
            let (l, pred) = try run(SimMIMConfig(target: .colorCluster(4), predResolution: 2, lossOn: .all), outputs: 4)
            var s = 0.0
            for r in 0..<4 {
                var colour: [Float] = []
                for c in 0..<3 {
                    var sum = 0.0
                    for k in 0..<16 { sum += T(r, c * 16 + k) }
                    colour.append(norm.raw(Float(sum / 16), channel: c))
                }
                let cls = Self.palette4.nearest(colour)
                let z = (0..<4).map { Double(pred[r * 4 + $0]) }
                s += log(z.map { exp($0) }.reduce(0, +)) - z[cls]
            }
            XCTAssertEqual(l, s / (4 + 1e-5), accuracy: 1e-5)
        }
    }

    /// `loss_on: masked` ignores the targets of visible tokens (and gives them no gradient);
    /// `all` does not.
    func testMaskedLossIgnoresVisiblePixelsAllDoesNot() throws {
        let vit = Self.tiny
        let mask: [Float] = [1, 0, 1, 0]
        let targets: [PredictionTarget] = [.l1, .l2, .smoothL1, .normalizedPixel, .bins(8), .bins(256), .colorCluster(4)]
        for t in targets {
            let s = SimMIMConfig(target: t, predResolution: 4)
            let outputs = s.outputsPerToken(for: vit)
            var rng = PRNG(seed: 12)
            let pred = Tensor(shape: [4, outputs]); rng.fillNormal(pred, std: 1)
            let patches = Tensor(shape: [4, 48]); rng.fillNormal(patches, std: 1)
            let changed = patches.clone()
            // Visible tokens 1 and 3 get another image: a ramp (distinct colours per pixel).
            for r in [1, 3] {
                for k in 0..<48 {
                    let ramp: Float = Float(k % 16) / 6 - 1.3
                    changed[r * 48 + k] = ramp + Float(k / 16) * 0.4
                }
            }
            for on in LossRegion.allCases {
                var cfg = s; cfg.lossOn = on
                let loss = try ReconstructionLoss(cfg, encoder: vit, pixels: Self.pixels, palette: Self.palette4)
                let g = Tensor(shape: [0])
                let before = loss.forward(pred: pred, patches: patches, mask: mask, grad: g)
                let visibleGrad = [1, 3].flatMap { r in (0..<outputs).map { g[r * outputs + $0] } }
                let after = loss.forward(pred: pred, patches: changed, mask: mask, grad: g)
                if on == .masked {
                    XCTAssertEqual(before, after, "\(t) masked")
                    XCTAssert(visibleGrad.allSatisfy { $0 == 0 }, "\(t): visible tokens get no gradient")
                } else {
                    XCTAssertNotEqual(before, after, "\(t) all")
                    XCTAssert(visibleGrad.contains { $0 != 0 }, "\(t): all tokens get a gradient")
                }
            }
        }
    }

    func testValidationNamesTheFieldAndValidValues() {
        func error(_ body: () throws -> Void) -> ConfigFieldError? {
            do { try body(); return nil } catch let e as ConfigFieldError { return e } catch { return nil }
        }
        let targetList = "valid values are l1, l2, smooth-l1, normalized-pixel, bins-8, bins-256, color-cluster-K (K ≥ 2)"
        for bad in ["bins-7", "bins-08", "color-cluster-1", "color-cluster-x", "color-cluster-+5", "L1", ""] {
            let e = error { _ = try PredictionTarget(parsing: bad) }
            XCTAssertEqual(e?.field, "target")
            XCTAssertEqual(e?.description, "target = \(bad): \(targetList)")
        }
        XCTAssertEqual(try PredictionTarget(parsing: "color-cluster-512"), .colorCluster(512))
        XCTAssertEqual(try PredictionTarget(parsing: "bins-256"), .bins(256))
        XCTAssertEqual(try PredictionTarget(parsing: "smooth-l1"), .smoothL1)
        XCTAssertEqual(error { _ = try SimMIMConfig(target: .bins(7)).validate(for: Self.tiny) }?.field, "target")

        let h = error { _ = try SimMIMConfig(head: "inverse-swin", target: "l1") }
        XCTAssertEqual(h?.field, "head")
        XCTAssertEqual(h?.description, "head = inverse-swin: valid values are linear, mlp2, transformer")
        let lo = error { _ = try SimMIMConfig(head: "linear", target: "l1", lossOn: "visible") }
        XCTAssertEqual(lo?.field, "loss_on")
        XCTAssertEqual(lo?.description, "loss_on = visible: valid values are masked, all")

        let vit = ViTConfig(imageSize: 32, patchSize: 4)
        for r in [4, 12, 64, 0] {
            let e = error { try SimMIMConfig(predResolution: r).validate(for: vit) }
            XCTAssertEqual(e?.field, "pred_resolution")
            XCTAssert(e?.description.hasPrefix("pred_resolution = \(r): valid values for 32 px images with 4 px patches are 8, 16, 32") == true,
                      e?.description ?? "no error")
        }
        XCTAssertNil(error { try SimMIMConfig(predResolution: 16).validate(for: vit) })
        XCTAssertEqual(error { try SimMIMConfig(head: .transformer, headWidth: 30, headHeads: 4).validate(for: vit) }?.field, "head_width")
        XCTAssertEqual(error { try SimMIMConfig(head: .transformer, headDepth: 0).validate(for: vit) }?.field, "head_depth")

        // What a target needs beyond the config.
        let nb = error { _ = try SimMIM(vit, SimMIMConfig(target: .bins(8))) }
        XCTAssertEqual(nb?.field, "target")
        XCTAssert(nb?.description.contains("mean/std") == true)
        let np = error { _ = try SimMIM(vit, SimMIMConfig(target: .colorCluster(8)), pixels: Self.pixels, palette: Self.palette4) }
        XCTAssertEqual(np?.field, "target")
        XCTAssert(np?.description.contains("ColorPalette of 8 colours") == true)
    }

    func testConfigRoundTripsThroughJSON() throws {
        let s = try SimMIMConfig(head: "transformer", headDepth: 3, headWidth: 64, target: "color-cluster-512",
                                 predResolution: 16, lossOn: "all")
        let data = try JSONEncoder().encode(s)
        XCTAssert(String(decoding: data, as: UTF8.self).contains("\"color-cluster-512\""))
        XCTAssertEqual(try JSONDecoder().decode(SimMIMConfig.self, from: data), s)
    }

    /// Timm-like names; the default keeps the official `decoder.weight` / `decoder.bias`, and
    /// `initialize` draws what the pre-existing encoder + decoder initialisation drew.
    func testHeadParameterNamesAndDefaultInitialisation() throws {
        let vit = Self.tiny, names = { (m: SimMIM) in m.head.parameters.map(\.name) }
        let lin = SimMIM(vit)
        XCTAssertEqual(names(lin), ["decoder.weight", "decoder.bias"])
        XCTAssertEqual(lin.parameters.count, ViTEncoder(vit).parameters.count + 3)
        let mlp = try SimMIM(vit, SimMIMConfig(head: .mlp2))
        XCTAssertEqual(names(mlp), ["decoder.fc1.weight", "decoder.fc1.bias", "decoder.fc2.weight", "decoder.fc2.bias"])
        XCTAssertEqual(mlp.parameter(named: "decoder.fc1.weight")?.value.shape, [8, 8])
        let tr = try SimMIM(vit, SimMIMConfig(head: .transformer, headDepth: 2, headWidth: 16, headHeads: 2))
        let trNames = names(tr)
        for n in ["decoder.embed.weight", "decoder.pos_embed", "decoder.blocks.1.attn.qkv.weight", "decoder.blocks.0.mlp.fc2.bias",
                  "decoder.norm.weight", "decoder.pred.weight"] { XCTAssert(trNames.contains(n), n) }
        XCTAssertEqual(tr.parameter(named: "decoder.pos_embed")?.value.shape, [1, 4, 16])
        XCTAssertEqual(tr.parameter(named: "decoder.pos_embed")?.weightDecay, false)
        XCTAssertEqual(tr.parameter(named: "decoder.pred.weight")?.layerID, vit.depth + 1)

        var r1 = PRNG(seed: 3), r2 = PRNG(seed: 3)
        let a = SimMIM(vit), b = SimMIM(vit)
        a.initialize(&r1)
        b.encoder.initialize(&r2, with: [b.maskToken])
        r2.fillTruncatedNormal(b.decoder.weight.value, std: 0.02)
        for (p, q) in zip(a.parameters, b.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
        // Initialised heads are not dead: every weight tensor is non-zero.
        for m in [mlp, tr] {
            var rng = PRNG(seed: 4)
            m.initialize(&rng)
            for p in m.head.parameters where !p.name.hasSuffix(".bias") { XCTAssert(p.value.array.contains { $0 != 0 }, p.name) }
        }
    }
}
