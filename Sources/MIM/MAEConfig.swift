import NN

/// MAE's own axes (the run config's `mae:` section; MAE Table 1 a–d). Defaults are Table 1's
/// default row (decoder narrower than the encoder, unnormalised pixels, no mask token in the
/// encoder) scaled to vit-micro.
public struct MAEConfig: Codable, Equatable, Sendable {
    /// Decoder blocks (Table 1a; official ViT-B: 8).
    public var decoderDepth = 2
    /// Decoder width (Table 1b; official ViT-B: 512 for a 768-wide encoder).
    public var decoderWidth = 64
    public var decoderHeads = 4
    /// `norm_pix_loss` (Table 1d): each target patch standardised by its mean and unbiased
    /// variance.
    public var normPix = false
    /// Table 1c: the encoder sees every token, masked ones as `encoder.mask_token`, and the
    /// decoder gets them all (no decoder mask token).
    public var maskTokenInEncoder = false
    /// The feature fine-tuning and the linear probe use: the mean of the patch tokens
    /// (official fine-tuning's `global_pool`) or the class token (official linear probe).
    public var pool: TokenPool = .mean

    public init(decoderDepth: Int = 2, decoderWidth: Int = 64, decoderHeads: Int = 4, normPix: Bool = false,
                maskTokenInEncoder: Bool = false, pool: TokenPool = .mean) {
        self.decoderDepth = decoderDepth; self.decoderWidth = decoderWidth; self.decoderHeads = decoderHeads
        self.normPix = normPix; self.maskTokenInEncoder = maskTokenInEncoder; self.pool = pool
    }

    /// Patches kept per image: the official `int(L * (1 - mask_ratio))`, in Double, truncated.
    public static func keptTokens(tokens L: Int, maskRatio: Double) -> Int { Int(Double(L) * (1 - maskRatio)) }

    /// Throws a `ConfigFieldError` naming the first bad field.
    public func validate(for vit: ViTConfig, maskRatio: Double) throws {
        if decoderDepth < 1 {
            throw ConfigFieldError(field: "mae.decoder_depth", "mae.decoder_depth = \(decoderDepth): at least 1")
        }
        if decoderHeads < 1 || decoderWidth < 4 || decoderWidth % decoderHeads != 0 || decoderWidth % 4 != 0 {
            throw ConfigFieldError(field: "mae.decoder_width",
                "mae.decoder_width = \(decoderWidth): must be a multiple of 4 (2-D sin-cos position) and of mae.decoder_heads = \(decoderHeads)")
        }
        if vit.dim % 4 != 0 {
            throw ConfigFieldError(field: "encoder.dim", "encoder.dim = \(vit.dim): MAE's 2-D sin-cos position embedding needs a multiple of 4")
        }
        let k = MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        if k < 1 || k >= vit.tokens {
            throw ConfigFieldError(field: "mask.ratio",
                "mask.ratio = \(maskRatio): MAE keeps int(\(vit.tokens) × (1 − ratio)) = \(k) of \(vit.tokens) tokens; it must keep at least 1 and remove at least 1")
        }
    }
}
