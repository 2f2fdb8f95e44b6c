import Foundation
import NN
import Tensor

/// MAE (He et al. 2021, `models_mae.py`): random masking by sorted noise, the encoder (with
/// a class token and the fixed sin-cos position) on the visible tokens only, a light
/// decoder that sees every position (`MAEDecoder`), and the per-patch MSE on the removed
/// patches (`MAELoss`). `maskTokenInEncoder` is Table 1c's other row: the encoder sees
/// every token, removed ones as `encoder.mask_token`.
public final class MAE: PretrainMethod {
    public let encoder: ViTEncoder
    public let maskMix: MaskTokenMix?
    public let decoder: MAEDecoder
    public let loss: MAELoss
    public let config: ViTConfig
    public let maeConfig: MAEConfig
    public let maskRatio: Double
    /// Patches kept per image, `int(L·(1 − ratio))`.
    public let kept: Int
    /// The current masks (`drawMasks`, or `setNoise` for a given noise).
    public private(set) var masking: TokenMasking?
    /// Table 1f's other samplings (block-wise, grid) when set; nil is the official random
    /// sampling by sorted noise.
    public private(set) var maskGenerator: MaskGenerator?

    private let gradPred = Tensor(shape: [0])
    private var batch = 0

    /// `sampling`: a mask distribution on the token grid for Table 1f's block-wise and grid
    /// rows (nil or random: the official sorted noise).
    public init(_ vit: ViTConfig, _ mae: MAEConfig, maskRatio: Double, sampling: MaskSpec? = nil) throws {
        try vit.validate()
        try mae.validate(for: vit, maskRatio: maskRatio)
        if let spec = sampling, spec.type != .random {
            precondition(spec.gridSize == vit.grid && spec.scale == 1, "MAE: sampling must be on the token grid")
            maskGenerator = try MaskGenerator(spec)
        }
        config = vit
        maeConfig = mae
        self.maskRatio = maskRatio
        kept = MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        encoder = ViTEncoder(vit, options: .mae)
        maskMix = mae.maskTokenInEncoder ? MaskTokenMix(dim: vit.dim) : nil
        decoder = MAEDecoder(dim: vit.dim, tokens: vit.tokens, grid: vit.grid, width: mae.decoderWidth,
                             depth: mae.decoderDepth, heads: mae.decoderHeads,
                             outputs: vit.patchSize * vit.patchSize * vit.channels, eps: vit.lnEps,
                             maskToken: !mae.maskTokenInEncoder, layerID: vit.depth + 1)
        loss = MAELoss(channels: vit.channels, patchSize: vit.patchSize, normPix: mae.normPix)
    }

    public var parameters: [Parameter] {
        encoder.parameters(inserting: maskMix?.parameters ?? []) + decoder.parameters
    }
    public var backbone: any ImageEncoder { encoder }
    /// Official `main_pretrain.py`: `AdamW(betas=(0.9, 0.95))`, lr = blr · batch / 256.
    public var betas: (Float, Float) { (0.9, 0.95) }
    public var referenceBatch: Int { 256 }

    /// The official `initialize_weights`: xavier-uniform Linear weights (the patch embedding's
    /// kernel viewed as `[D, C·p²]`) with zero biases, the patch embedding's bias as
    /// PyTorch's Conv2d default U(±1/√(C·p²)), class and mask tokens N(0, 0.02), LayerNorm
    /// (1, 0). The position tables are fixed.
    public func initialize(_ rng: inout PRNG) {
        MAE.officialInitialize(parameters, encoder: encoder, config: config, &rng)
    }

    /// `initialize` on any parameter list holding `encoder`'s (MaskAlign copies this
    /// initialisation). A 1-D tensor that is not a bias is a LayerNorm gain.
    public static func officialInitialize(_ parameters: [Parameter], encoder: ViTEncoder, config: ViTConfig, _ rng: inout PRNG) {
        func xavier(_ w: Parameter, fanIn: Int, fanOut: Int) {
            let bound = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
            rng.fillUniform(w.value, -bound, bound)
        }
        for p in parameters {
            if p.value.shape.count == 1 && !p.name.hasSuffix(".bias") {
                p.value.fill(1)
            } else if p.name.hasSuffix("_token") {
                rng.fillNormal(p.value, std: 0.02)
            } else if p === encoder.patchEmbed.proj.weight {
                let fanIn = config.channels * config.patchSize * config.patchSize
                xavier(p, fanIn: fanIn, fanOut: config.dim)
            } else if p === encoder.patchEmbed.proj.bias {
                let b = 1 / Float(config.channels * config.patchSize * config.patchSize).squareRoot()
                rng.fillUniform(p.value, -b, b)
            } else if p.name.hasSuffix(".bias") {
                p.value.zero()
            } else {
                xavier(p, fanIn: p.value.shape[1], fanOut: p.value.shape[0])
            }
        }
    }

    public func drawMasks(batch: Int, _ rng: inout PRNG) {
        guard var generator = maskGenerator else {
            masking = TokenMasking.draw(batch: batch, tokens: config.tokens, kept: kept, &rng)
            return
        }
        // The encoder takes the same number of tokens from every image, so a drawn mask
        // becomes noise that sorts its visible tokens first (in random order) and its masked
        // ones after: exactly `kept` are kept, the mask's own where it has that many visible
        // (grid always; block-wise when BEiT's generator reaches its target).
        var noise = [Float](repeating: 0, count: batch * config.tokens)
        noise.withUnsafeMutableBufferPointer { generator.fill($0.baseAddress!, batch: batch, &rng) }
        for i in noise.indices { noise[i] += 0.5 * rng.uniform() }
        maskGenerator = generator
        masking = TokenMasking(noise: noise, batch: batch, kept: kept)
    }

    /// Masks from a given noise `[B·L]` (an oracle case's `input.noise`).
    public func setNoise(_ noise: [Float], batch: Int) {
        masking = TokenMasking(noise: noise, batch: batch, kept: kept)
    }

    public func step(_ images: Tensor, batch: Int) -> Double {
        let l = forward(images, batch: batch)
        backward()
        return l
    }

    /// Loss of one batch under the current masks.
    public func forward(_ images: Tensor, batch: Int) -> Double {
        guard let m = masking, m.batch == batch else { preconditionFailure("MAE.forward: no masks drawn for \(batch) images") }
        self.batch = batch
        var noRNG: PRNG? = nil
        let e = encoder.embed(images, batch: batch)
        let latent: Tensor, index: [Int32]
        if let mix = maskMix {
            latent = encoder.encode(mix.forward(e, mask: m.mask), batch: batch, keep: nil, rng: &noRNG)
            index = MAEDecoder.identityIndex(batch: batch, tokens: config.tokens)
        } else {
            latent = encoder.encode(e, batch: batch, keep: m.idsKeep, rng: &noRNG)
            index = MAEDecoder.unshuffleIndex(m)
        }
        let pred = decoder.forward(latent, batch: batch, index: index)
        return loss.forward(pred: pred, patches: encoder.patches, weights: m.mask, grad: gradPred)
    }

    /// Accumulates every parameter gradient of the last `forward`.
    public func backward() {
        var dx = encoder.backward(decoder.backward(gradPred))
        if let mix = maskMix { dx = mix.backward(dx) }
        encoder.backwardEmbedding(dx)
    }

    public var flopsPerImage: FlopCount { MAE.flopsPerImage(config, maeConfig, maskRatio: maskRatio) }

    /// The encoder on 1 + K tokens (all L with the mask token in the encoder), the decoder on
    /// 1 + L; a step is 3 × forward less the patch embedding's input gradient.
    public static func flopsPerImage(_ vit: ViTConfig, _ mae: MAEConfig, maskRatio: Double) -> FlopCount {
        let k = mae.maskTokenInEncoder ? vit.tokens : MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        let enc = ViTEncoder.flops(vit, prefixTokens: 1, kept: k)
        let dec = MAEDecoder.flops(dim: vit.dim, tokens: vit.tokens, encoded: 1 + k, width: mae.decoderWidth,
                                   depth: mae.decoderDepth, outputs: vit.patchSize * vit.patchSize * vit.channels)
        let fwd = enc.forward + dec
        return FlopCount(forward: fwd, train: 3 * fwd - enc.patchEmbedding)
    }

    /// mimlab's parameter name → the official `models_mae.py` state-dict name.
    public static func officialName(_ name: String) -> String {
        let map: [(String, String)] = [
            ("encoder.patch_embed.", "patch_embed.proj."), ("encoder.", ""),
            ("decoder.embed.", "decoder_embed."), ("decoder.mask_token", "mask_token"),
            ("decoder.blocks.", "decoder_blocks."), ("decoder.norm.", "decoder_norm."), ("decoder.pred.", "decoder_pred."),
        ]
        for (ours, theirs) in map where name.hasPrefix(ours) { return theirs + name.dropFirst(ours.count) }
        return name
    }
}
