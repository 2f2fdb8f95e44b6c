import Foundation
import MIM
import NN

/// MAE from a run config: the `mae:` section (`MAEConfig`), `mask.ratio` and `mask.type`
/// (random by sorted noise; block-wise or grid, Table 1f). MAE masks single tokens and
/// predicts pixels with its own decoder and loss, so the SimMIM-only settings must stay at
/// their defaults: `mask.patch` = `encoder.patch`, and the `head` and `target` sections.
public enum MAERecipe: MethodRecipe {
    public static let section: (name: String, keys: [String])? = (
        "mae", ["decoder_depth", "decoder_width", "decoder_heads", "norm_pix", "mask_token_in_encoder", "pool"])

    public static func read(_ r: ConfigReader, into c: inout RunConfig) throws {
        var m = MAEConfig()
        m.decoderDepth = try r.int("mae.decoder_depth", m.decoderDepth, min: 1)
        m.decoderWidth = try r.int("mae.decoder_width", m.decoderWidth, min: 4)
        m.decoderHeads = try r.int("mae.decoder_heads", m.decoderHeads, min: 1)
        m.normPix = try r.bool("mae.norm_pix", m.normPix)
        m.maskTokenInEncoder = try r.bool("mae.mask_token_in_encoder", m.maskTokenInEncoder)
        m.pool = TokenPool(rawValue: try r.string("mae.pool", m.pool.rawValue, oneOf: TokenPool.allCases.map(\.rawValue)))!
        let vit = c.encoder.vit
        do { try m.validate(for: vit, maskRatio: c.mask.ratio) } catch let e as ConfigFieldError {
            throw ConfigError("\(r.origin(e.field)): \(e)")
        }
        let samplings = [MaskType.random, .blockwise, .grid].map(\.rawValue)
        if !samplings.contains(c.mask.type) {
            throw ConfigError("\(r.origin("mask.type")): mask.type = \(c.mask.type): method mae samples tokens at random (sorted noise, as the official code), block-wise or on a grid (Table 1f); valid: \(samplings.joined(separator: ", "))")
        }
        try refuseSimMIMSettings(r, c, method: "mae",
            instead: "MAE's decoder and target are set in mae.decoder_depth, mae.decoder_width, mae.decoder_heads, mae.norm_pix")
        c.mae = m
    }

    public static func make(_ config: RunConfig, data: RunData?) throws -> any PretrainMethod {
        try MAE(config.encoder.vit, config.mae ?? MAEConfig(), maskRatio: config.mask.ratio, sampling: config.maskSpec)
    }

    public static func flopsPerImage(_ config: RunConfig) -> FlopCount {
        MAE.flopsPerImage(config.encoder.vit, config.mae ?? MAEConfig(), maskRatio: config.mask.ratio)
    }

    public static func pool(_ config: RunConfig) -> TokenPool { (config.mae ?? MAEConfig()).pool }

    public static var encoderOptions: ViTOptions { .mae }

    /// The official `main_pretrain.py`: lr = blr · batch / 256.
    public static var referenceBatch: Int { 256 }
}
