import Foundation
import MIM
import NN

/// `method: supervised`: the encoder trained on the pool's labels (`SupervisedPretraining`),
/// the in-harness stand-in for a teacher that has seen labels. It masks nothing and has no
/// reconstruction target, so the `mask`, `head` and `target` sections must keep their
/// defaults.
public enum SupervisedRecipe: MethodRecipe {
    public static let section: (name: String, keys: [String])? = nil

    public static func read(_ r: ConfigReader, into c: inout RunConfig) throws {
        let d = RunConfig()
        for (field, isDefault) in [("mask.type", c.mask.type == d.mask.type), ("mask.patch", c.mask.patch == d.mask.patch),
                                   ("mask.ratio", c.mask.ratio == d.mask.ratio), ("head.type", c.head.type == d.head.type),
                                   ("head.depth", c.head.depth == d.head.depth), ("head.width", c.head.width == d.head.width),
                                   ("head.heads", c.head.heads == d.head.heads), ("target.type", c.target.type == d.target.type),
                                   ("target.pred_resolution", c.target.predResolution == d.target.predResolution),
                                   ("target.loss_on", c.target.lossOn == d.target.lossOn)] where !isDefault {
            throw ConfigError("\(r.origin(field)): \(field) does nothing for method supervised (it masks nothing and predicts the pool's labels); leave the key out")
        }
        if c.encoder.vit.dim % 4 != 0 {
            throw ConfigError("\(r.origin("encoder.dim")): encoder.dim = \(c.encoder.vit.dim): the 2-D sin-cos position embedding needs a multiple of 4")
        }
    }

    public static func make(_ config: RunConfig, data: RunData?) throws -> any PretrainMethod {
        try SupervisedPretraining(config.encoder.vit, classes: data?.classes ?? config.data.classes)
    }

    public static func flopsPerImage(_ config: RunConfig) -> FlopCount {
        SupervisedPretraining.flopsPerImage(config.encoder.vit, classes: config.data.classes)
    }

    /// The feature it was trained on.
    public static func pool(_ config: RunConfig) -> TokenPool { .cls }

    public static var encoderOptions: ViTOptions { .mae }
}
