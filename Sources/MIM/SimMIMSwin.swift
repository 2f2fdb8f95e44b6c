import Foundation
import NN
import Tensor

/// SimMIM on Swin (the official `SwinTransformerForSimMIM` + `SimMIM`): the mask token
/// (`encoder.mask_token`, stage 0's width) replaces masked rows on the first stage's token
/// grid, right after the patch embedding's LayerNorm; the encoder runs on every token; the
/// head reads the last stage (stride `outputStride`: 32 on Swin-B) and predicts each output
/// token's stride² pixels (1×1 conv + PixelShuffle(stride), k = c·s² + dy·s + dx); the
/// loss is `ReconstructionLoss` on those rows.
///
/// The head and the loss see the last stage as a plain ViT would be seen with patch =
/// output stride (`outputGeometry`), so every SimMIM head, target and prediction resolution
/// applies unchanged, with the paper's definition of the resolution on that stride. The
/// mask is drawn on the first stage's grid; the loss weights each output token by it, which
/// is the official per-pixel weighting exactly when a mask patch covers whole output tokens
/// (mask.patch a multiple of the stride, as 32 on Swin-B), which `init` requires.
public final class SimMIMSwin: SimMIMFamily {
    public let encoder: SwinEncoder
    public let maskMix: MaskTokenMix
    public let head: PredictionHead
    public let loss: ReconstructionLoss
    public let swinConfig: SwinConfig
    public let simmimConfig: SimMIMConfig
    /// The last stage seen as a ViT: image size, patch = output stride, width = output width,
    /// depth = all Swin blocks (the head's lr-decay index is depth + 1).
    public let geometry: ViTConfig
    public var maskGenerator: MaskGenerator?

    private let gradPred = Tensor(shape: [0])
    /// Image rows at the output stride, `[B·L_out, C·stride²]` (the targets).
    public let targetPatches = Tensor(shape: [0])
    private var batch = 0
    /// On the first stage's grid, `B·L` (1 = masked).
    public var mask: [Float] = []
    public var maskTokens: Int { swinConfig.tokens }
    /// On the output grid, `B·L_out`.
    public private(set) var outputMask: [Float] = []

    public static func outputGeometry(_ s: SwinConfig) -> ViTConfig {
        ViTConfig(imageSize: s.imageSize, patchSize: s.outputStride, channels: s.channels, dim: s.outputDim,
                  depth: s.blockCount, heads: 1, mlpRatio: s.mlpRatio, lnEps: 1e-6)
    }

    public init(_ swin: SwinConfig, _ simmim: SimMIMConfig, pixels: PixelNormalization? = nil,
                palette: ColorPalette? = nil, masks: MaskSpec? = nil) throws {
        do { try swin.validate() } catch { throw ConfigFieldError(field: "encoder", "\(error)") }
        if let m = masks, m.maskedPatchSize % swin.outputStride != 0 {
            throw ConfigFieldError(field: "mask.patch",
                "mask.patch = \(m.maskedPatchSize) must be a multiple of the Swin output stride \(swin.outputStride) (patch \(swin.patchSize) · 2^\(swin.stages - 1)); valid: \((1...4).map { String($0 * swin.outputStride) }.joined(separator: ", ")), …")
        }
        swinConfig = swin
        simmimConfig = simmim
        geometry = SimMIMSwin.outputGeometry(swin)
        loss = try ReconstructionLoss(simmim, encoder: geometry, pixels: pixels, palette: palette)
        encoder = SwinEncoder(swin)
        maskMix = MaskTokenMix(dim: swin.embedDim)
        // `SwinTransformerForSimMIM.no_weight_decay` adds the mask token (the ViT's decays it).
        maskMix.token.weightDecay = false
        head = makePredictionHead(simmim, encoder: geometry)
        maskGenerator = try masks.map { try MaskGenerator($0) }
    }

    public var backbone: any ImageEncoder { encoder }

    public var flopsPerImage: FlopCount { SimMIMSwin.flopsPerImage(swinConfig, simmimConfig) }

    public static func flopsPerImage(_ swin: SwinConfig, _ s: SimMIMConfig) -> FlopCount {
        SwinEncoder.flopsPerImage(swin) + .layers(SimMIM.headFlops(outputGeometry(swin), s))
    }

    /// The output-grid mask: output token (I, J) takes the first-stage token at its top-left
    /// corner, after checking that the mask is constant over the cell.
    static func outputMask(_ mask: [Float], batch: Int, grid g: Int, factor f: Int) -> [Float] {
        let go = g / f
        var out = [Float](repeating: 0, count: batch * go * go)
        for b in 0..<batch { for I in 0..<go { for J in 0..<go {
            let v = mask[(b * g + I * f) * g + J * f]
            for di in 0..<f { for dj in 0..<f {
                precondition(mask[(b * g + I * f + di) * g + J * f + dj] == v,
                             "SimMIMSwin: the mask is not constant over output token (\(I), \(J)); mask patches must cover whole output tokens")
            } }
            out[(b * go + I) * go + J] = v
        } } }
        return out
    }

    /// Loss of one batch; `mask` on the first stage's grid (`B·L`, 1 = masked).
    public func forward(_ images: Tensor, mask: [Float], batch: Int) -> Double {
        let s = swinConfig
        precondition(mask.count == batch * s.tokens, "SimMIMSwin: mask has \(mask.count) entries, expected \(batch * s.tokens)")
        self.batch = batch
        self.mask = mask
        outputMask = SimMIMSwin.outputMask(mask, batch: batch, grid: s.grid, factor: s.outputStride / s.patchSize)
        var noRNG: PRNG? = nil
        let e = encoder.embed(images, batch: batch)
        let z = encoder.encode(maskMix.forward(e, mask: mask), batch: batch, keep: nil, rng: &noRNG)
        let pred = head.forward(z, batch: batch)
        PatchEmbed.im2col(images.data, batch: batch, channels: s.channels, imageSize: s.imageSize,
                          patchSize: s.outputStride, into: targetPatches)
        return loss.forward(pred: pred, patches: targetPatches, mask: outputMask, grad: gradPred)
    }

    public func backward() {
        encoder.backwardEmbedding(maskMix.backward(encoder.backward(head.backward(gradPred))))
    }

    /// The prediction as images `[B, C, H, W]` (regression targets at full resolution: the
    /// official `x_rec`).
    public func reconstruction() -> Tensor {
        let s = swinConfig, side = loss.side, r = geometry.grid * side
        let out = Tensor(shape: [batch, s.channels, r, r])
        PatchEmbed.col2im(prediction.data, batch: batch, channels: s.channels, imageSize: r, patchSize: side, into: out.data)
        return out
    }
}
