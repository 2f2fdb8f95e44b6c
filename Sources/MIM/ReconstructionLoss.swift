import Foundation
import NN
import Tensor

/// SimMIM's prediction target and loss, over token rows: the head's prediction
/// `[B·L, outputsPerToken]` against the token's (pooled) pixels, weighted per token by the
/// mask (`loss_on: masked`) or by 1 (`loss_on: all`).
///
/// Every loss is Σ_rows w_r · Σ_(elements e of row r) ℓ_e / N, N counting the elements
/// on the counted rows (s² target pixels per token, C channels):
/// - l1, l2, smooth-l1: N = (Σw·s² + 1e-5)·C — the official `(loss·mask).sum() /
///   (mask.sum() + 1e-5) / in_chans`; for l1 at full resolution this *is* the official loss,
///   computed by `SimMIM.maskedL1`.
/// - normalized-pixel: N = Σw·s²·C — MAE's per-patch mean then mean over masked patches
///   (MAE has no eps there); an empty count gives 0.
/// - bins-K: one K-way cross-entropy per channel per pixel, N = (Σw·s² + 1e-5)·C.
/// - color-cluster-K: one K-way cross-entropy per pixel, N = Σw·s² + 1e-5.
/// Masks may be soft (0 ≤ w ≤ 1) as in the encoder.
public final class ReconstructionLoss {
    public let target: PredictionTarget
    public let lossOn: LossRegion
    public let channels: Int
    public let patchSize: Int
    /// Target pixels per token side, s.
    public let side: Int
    public let pixels: PixelNormalization?
    public let palette: ColorPalette?

    /// The last forward's target rows `[B·L, C·s²]` (normalised pixels, pooled; for
    /// normalized-pixel, standardised per row).
    public let targetRows = Tensor(shape: [0])
    /// The last forward's class per classified element (bins: `[B·L·C·s²]`, clusters: `[B·L·s²]`).
    public private(set) var classes: [Int32] = []

    public init(_ config: SimMIMConfig, encoder vit: ViTConfig, pixels: PixelNormalization? = nil,
                palette: ColorPalette? = nil) throws {
        try config.validate(for: vit)
        target = config.target
        lossOn = config.lossOn
        channels = vit.channels
        patchSize = vit.patchSize
        side = config.pixelsPerTokenSide(for: vit)
        if config.target.isClassification {
            guard let pixels, pixels.channels == vit.channels else {
                throw ConfigFieldError(field: "target",
                    "target = \(config.target) classifies raw [0, 1] colours: pass the data's per-channel mean/std (\(vit.channels) channels) as `pixels`")
            }
        }
        if case .colorCluster(let k) = config.target {
            guard let palette, palette.count == k, palette.channels == vit.channels else {
                throw ConfigFieldError(field: "target",
                    "target = \(config.target) needs a fitted ColorPalette of \(k) colours with \(vit.channels) channels (ColorPalette.fit on the pre-train pool)")
            }
        }
        self.pixels = pixels
        self.palette = palette
    }

    /// Loss of one batch; writes d loss / d prediction into `grad`. `patches` are the image's
    /// patch rows `[B·L, C·p²]` (`PatchEmbed.patches`), `mask` the token mask (1 = masked).
    public func forward(pred: Tensor, patches: Tensor, mask: [Float], grad: Tensor) -> Double {
        let rows = mask.count, C = channels, s = side, s2 = s * s
        let w = lossOn == .masked ? mask : [Float](repeating: 1, count: rows)
        let t: Tensor
        if s == patchSize {
            t = patches
        } else {
            PredictionResolution.pool(patches, channels: C, patchSize: patchSize, side: s, into: targetRows)
            t = targetRows
        }
        let counted = w.reduce(0.0) { $0 + Double($1) } * Double(s2)
        switch target {
        case .l1:
            return SimMIM.maskedL1(pred: pred, target: t, mask: w, pixelsPerToken: s2, channels: C, grad: grad)
        case .l2, .smoothL1:
            return ReconstructionLoss.regression(target == .l2 ? .l2 : .smoothL1, pred: pred, target: t, weights: w,
                                                 denominator: (counted + 1e-5) * Double(C), grad: grad)
        case .normalizedPixel:
            ReconstructionLoss.standardizeRows(t, into: targetRows)
            return ReconstructionLoss.regression(.l2, pred: pred, target: targetRows, weights: w,
                                                 denominator: counted * Double(C), grad: grad)
        case .bins(let k):
            let bins = ChannelBins(k), norm = pixels!
            classes = [Int32](repeating: 0, count: t.count)
            let T = t.data, E = C * s2
            for i in 0..<t.count { classes[i] = Int32(bins.bin(norm.raw(T[i], channel: (i % E) / s2))) }
            return ReconstructionLoss.crossEntropy(logits: pred, classes: classes, classCount: k, weights: w,
                                                   denominator: (counted + 1e-5) * Double(C), grad: grad)
        case .colorCluster(let k):
            let palette = palette!, norm = pixels!
            classes = [Int32](repeating: 0, count: rows * s2)
            let T = t.data, E = C * s2
            classes.withUnsafeMutableBufferPointer { cp in
                let CL = cp.baseAddress!
                Parallel.chunks(rows, minPerChunk: 16) { lo, hi in
                    var rgb = [Float](repeating: 0, count: C)
                    for r in lo..<hi {
                        for q in 0..<s2 {
                            for c in 0..<C { rgb[c] = norm.raw(T[r * E + c * s2 + q], channel: c) }
                            CL[r * s2 + q] = Int32(palette.nearest(rgb))
                        }
                    }
                }
            }
            return ReconstructionLoss.crossEntropy(logits: pred, classes: classes, classCount: k, weights: w,
                                                   denominator: counted + 1e-5, grad: grad)
        }
    }

    public enum Regression { case l1, l2, smoothL1 }

    /// Σ_r w_r Σ_k ℓ(pred − target) / denominator, with ℓ = |d| (l1; sign(0) = 0 as torch's
    /// gradient), d² (l2) or torch's smooth-L1 with β = 1; writes d loss / d pred (zero on rows
    /// of weight 0).
    public static func regression(_ kind: Regression, pred: Tensor, target: Tensor, weights: [Float],
                                  denominator: Double, grad: Tensor) -> Double {
        let rows = weights.count, K = pred.count / rows
        precondition(target.count == pred.count, "regression: prediction \(pred.shape), target \(target.shape)")
        grad.resize(pred.shape)
        if denominator == 0 { grad.zero(); return 0 }
        let P = pred.data, T = target.data, G = grad.data
        var partial = [Double](repeating: 0, count: rows)
        partial.withUnsafeMutableBufferPointer { part in
            let S = part.baseAddress!
            Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / K)) { lo, hi in
                for r in lo..<hi {
                    let wr = weights[r]
                    if wr == 0 { (G + r * K).update(repeating: 0, count: K); S[r] = 0; continue }
                    let gscale = Float(Double(wr) / denominator)
                    var s = 0.0
                    for k in 0..<K {
                        let d = P[r * K + k] - T[r * K + k]
                        switch kind {
                        case .l1:
                            s += Double(abs(d))
                            G[r * K + k] = d > 0 ? gscale : (d < 0 ? -gscale : 0)
                        case .l2:
                            s += Double(d) * Double(d)
                            G[r * K + k] = 2 * d * gscale
                        case .smoothL1:
                            if abs(d) < 1 { s += 0.5 * Double(d) * Double(d); G[r * K + k] = d * gscale }
                            else { s += Double(abs(d)) - 0.5; G[r * K + k] = (d > 0 ? 1 : -1) * gscale }
                        }
                    }
                    S[r] = s * Double(wr)
                }
            }
        }
        return partial.reduce(0, +) / denominator
    }

    /// MAE's patch normalisation per row: (t − mean) / √(var + 1e-6), var unbiased (torch's
    /// `Tensor.var` default).
    public static func standardizeRows(_ t: Tensor, into out: Tensor) {
        let rows = t.shape[0], n = t.count / rows
        precondition(n >= 2, "standardizeRows: a variance needs at least 2 values per row")
        if out !== t { out.resize(t.shape) }
        let X = t.data, O = out.data
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / n)) { lo, hi in
            for r in lo..<hi {
                var mean = 0.0
                for k in 0..<n { mean += Double(X[r * n + k]) }
                mean /= Double(n)
                var ss = 0.0
                for k in 0..<n { let d = Double(X[r * n + k]) - mean; ss += d * d }
                let inv = 1 / (ss / Double(n - 1) + 1e-6).squareRoot()
                for k in 0..<n { O[r * n + k] = Float((Double(X[r * n + k]) - mean) * inv) }
            }
        }
    }

    /// Softmax cross-entropy of each run of `classCount` logits against `classes[e]`,
    /// weighted by its row's weight: Σ_r w_r Σ_e (logsumexp(z_e) − z_e[class_e]) / denominator.
    /// Writes d loss / d logits = w_r (softmax(z_e) − onehot) / denominator.
    public static func crossEntropy(logits: Tensor, classes: [Int32], classCount K: Int, weights: [Float],
                                    denominator: Double, grad: Tensor) -> Double {
        let rows = weights.count, perRow = classes.count / rows
        precondition(logits.count == classes.count * K && perRow * rows == classes.count,
                     "crossEntropy: \(logits.count) logits for \(classes.count) elements of \(K) classes")
        grad.resize(logits.shape)
        let Z = logits.data, G = grad.data, RK = perRow * K
        var partial = [Double](repeating: 0, count: rows)
        partial.withUnsafeMutableBufferPointer { part in
            let S = part.baseAddress!
            Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / (4 * RK))) { lo, hi in
                for r in lo..<hi {
                    let wr = weights[r]
                    if wr == 0 { (G + r * RK).update(repeating: 0, count: RK); S[r] = 0; continue }
                    let gscale = Float(Double(wr) / denominator)
                    var s = 0.0
                    for e in 0..<perRow {
                        let z = Z + r * RK + e * K, g = G + r * RK + e * K
                        let m = vmax(z, K), vm = V16(repeating: m)
                        vmap(z, g, K) { vexp($0 - vm) }
                        let sum = vsum(g, K)
                        let cls = Int(classes[r * perRow + e])
                        s += Double(m) + log(Double(sum)) - Double(z[cls])
                        let vs = V16(repeating: gscale / sum)
                        vmap(g, g, K) { $0 * vs }
                        g[cls] -= gscale
                    }
                    S[r] = s * Double(wr)
                }
            }
        }
        return partial.reduce(0, +) / denominator
    }
}

extension ReconstructionLoss: Objective {
    public func forward(pred: Tensor, patches: Tensor, weights: [Float], grad: Tensor) -> Double {
        forward(pred: pred, patches: patches, mask: weights, grad: grad)
    }
}
