import Foundation
import NN
import Tensor

/// SimMIM: the encoder sees every token (masked ones replaced by the mask token, which
/// SimMIM owns under the official name `encoder.mask_token`), a prediction head maps each
/// token to its target, and the loss compares them (see `SimMIMConfig` for the axes,
/// `ReconstructionLoss` for the formulas).
///
/// The default — `SimMIM(vit)` — is the official model: a 1×1 linear "decoder" maps each
/// token to its p·p·C pixels in PixelShuffle order (k = c·p² + dy·p + dx), and the loss is
/// the L1 distance on masked pixels, normalised as the official code: Σ|x − x̂|·M / (Σ M +
/// 1e-5) / C, with M counted once per pixel, not per channel.
public final class SimMIM: SimMIMFamily {
    public let encoder: ViTEncoder
    public let maskMix: MaskTokenMix
    public let head: PredictionHead
    public let loss: ReconstructionLoss
    public let config: ViTConfig
    public let simmimConfig: SimMIMConfig
    public var maskGenerator: MaskGenerator?

    /// d loss / d prediction, `[B·L, outputsPerToken]`.
    private let gradPred = Tensor(shape: [0])
    private var batch = 0
    public var mask: [Float] = []
    public var maskTokens: Int { config.tokens }

    /// The official SimMIM (linear head, L1 on masked pixels, full resolution).
    public convenience init(_ config: ViTConfig) {
        // The official config validates for every encoder geometry.
        try! self.init(config, .official)
    }

    /// `pixels`: the data's per-channel normalisation, needed by the classification targets
    /// (bins, colour clusters), which are defined on raw [0, 1] colours. `palette`: the
    /// fitted palette of `color-cluster-K`. `masks`: what `drawMasks` draws. Throws a
    /// `ConfigFieldError` for a config that does not fit the encoder or lacks what its
    /// target needs.
    public init(_ config: ViTConfig, _ simmim: SimMIMConfig, options: ViTOptions = .simmim, pixels: PixelNormalization? = nil,
                palette: ColorPalette? = nil, masks: MaskSpec? = nil) throws {
        self.config = config
        self.simmimConfig = simmim
        loss = try ReconstructionLoss(simmim, encoder: config, pixels: pixels, palette: palette)
        encoder = ViTEncoder(config, options: options)
        maskMix = MaskTokenMix(dim: config.dim)
        head = makePredictionHead(simmim, encoder: config)
        maskGenerator = try masks.map { try MaskGenerator($0) }
    }

    public var backbone: any ImageEncoder { encoder }

    /// The head's final projection: for the default linear head, the whole head
    /// (`decoder.weight` `[p²C, D, 1, 1]`, `decoder.bias`).
    public var decoder: Linear { head.outputLayer }

    public var flopsPerImage: FlopCount { SimMIM.flopsPerImage(config, simmimConfig) }

    /// Encoder on every token, then the head (whose input gradient is needed).
    public static func flopsPerImage(_ vit: ViTConfig, _ s: SimMIMConfig) -> FlopCount {
        ViTEncoder.flopsPerImage(vit, options: .simmim) + .layers(headFlops(vit, s))
    }

    /// Forward FLOPs per image of the prediction head, from its layer shapes.
    public static func headFlops(_ vit: ViTConfig, _ s: SimMIMConfig) -> Double {
        let L = Double(vit.tokens), D = Double(vit.dim), out = Double(s.outputsPerToken(for: vit))
        switch s.head {
        case .linear: return 2 * L * D * out
        case .mlp2: return 2 * L * (D * D + D * out)
        case .transformer:
            let W = Double(s.headWidth)
            return 2 * L * D * W + Double(s.headDepth) * ViTEncoder.blockFlops(tokens: L, dim: W, hidden: 4 * W)
                + 2 * L * W * out
        }
    }

    /// Loss of one batch; `mask` is on the token grid (`B·L`, 1 = masked).
    public func forward(_ images: Tensor, mask: [Float], batch: Int) -> Double {
        self.batch = batch
        self.mask = mask
        var noRNG: PRNG? = nil
        let e = encoder.embed(images, batch: batch)
        let z = encoder.encode(maskMix.forward(e, mask: mask), batch: batch, keep: nil, rng: &noRNG)
        let pred = head.forward(z, batch: batch)
        return loss.forward(pred: pred, patches: encoder.patches, mask: mask, grad: gradPred)
    }

    public func backward() {
        encoder.backwardEmbedding(maskMix.backward(encoder.backward(head.backward(gradPred))))
    }

    /// The reconstruction as images `[B, C, r, r]` at the prediction resolution r (the
    /// official model's `x_rec` by default), in the normalised pixel space of the input.
    /// Classification targets show the argmax class: its bin centre or palette colour.
    /// normalized-pixel predictions are per-patch standardised and are returned as such.
    public func reconstruction() -> Tensor {
        let c = config, C = c.channels, s = loss.side, s2 = s * s, r = c.grid * s, rows = batch * c.tokens
        let out = Tensor(shape: [batch, C, r, r])
        let pixelRows: Tensor
        switch simmimConfig.target {
        case .l1, .l2, .smoothL1, .normalizedPixel:
            pixelRows = prediction
        case .bins(let k):
            let bins = ChannelBins(k), norm = loss.pixels!, P = prediction.data
            pixelRows = Tensor(shape: [rows, C * s2])
            for e in 0..<(rows * C * s2) {
                let z = P + e * k
                let best = (0..<k).max { z[$0] < z[$1] }!
                pixelRows[e] = norm.normalized(bins.center(best), channel: (e % (C * s2)) / s2)
            }
        case .colorCluster(let k):
            let palette = loss.palette!, norm = loss.pixels!, P = prediction.data
            pixelRows = Tensor(shape: [rows, C * s2])
            for row in 0..<rows { for q in 0..<s2 {
                let z = P + (row * s2 + q) * k
                let colour = palette.color((0..<k).max { z[$0] < z[$1] }!)
                for ch in 0..<C { pixelRows[row * C * s2 + ch * s2 + q] = norm.normalized(colour[ch], channel: ch) }
            } }
        }
        PatchEmbed.col2im(pixelRows.data, batch: batch, channels: C, imageSize: r, patchSize: s, into: out.data)
        return out
    }

    /// The official loss: L1 over masked token rows, Σ|x − x̂|·M / (Σ M + 1e-5) / C with M
    /// counted once per pixel; writes d loss / d pred into `grad` (zero on visible rows).
    public static func maskedL1(pred: Tensor, target: Tensor, mask: [Float], pixelsPerToken: Int,
                                channels: Int, grad: Tensor) -> Double {
        let masked = mask.reduce(0.0) { $0 + Double($1) }
        return ReconstructionLoss.regression(.l1, pred: pred, target: target, weights: mask,
                                             denominator: (masked * Double(pixelsPerToken) + 1e-5) * Double(channels),
                                             grad: grad)
    }
}
