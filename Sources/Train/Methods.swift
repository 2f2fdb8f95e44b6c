import Foundation
import MIM
import NN

/// How a run config becomes a pre-training method: reading and checking its config section,
/// building the model, its analytic cost, and the feature the probe and fine-tuning pool.
/// One recipe per method, each in its own file, registered in `Methods.registry`.
public protocol MethodRecipe {
    /// The method's own config section and its keys (nil: none).
    static var section: (name: String, keys: [String])? { get }
    /// Reads the method's section into `config` and refuses shared settings the method
    /// does not use; errors name file:line and the field (`reader.origin`).
    static func read(_ reader: ConfigReader, into config: inout RunConfig) throws
    /// The model, uninitialised. `data` gives what some targets need (pixel statistics, the
    /// pool for a colour palette); nil where they are not needed.
    static func make(_ config: RunConfig, data: RunData?) throws -> any PretrainMethod
    /// FLOPs per image of one pre-training step, from the config alone (the cost model).
    static func flopsPerImage(_ config: RunConfig) -> FlopCount
    /// The feature the linear probe and the fine-tune head take from the encoder.
    static func pool(_ config: RunConfig) -> TokenPool
    /// The ViT variant the method pre-trains (class token, position embedding).
    static var encoderOptions: ViTOptions { get }
    /// The batch its pre-training lr is scaled to (lr = base_lr · batch / this), as the
    /// model's `PretrainMethod.referenceBatch`, from the config alone (for summaries).
    static var referenceBatch: Int { get }
}

extension MethodRecipe {
    /// SimMIM's linear scaling rule.
    public static var referenceBatch: Int { 512 }
}

public enum Methods {
    /// Adding a method: its files, and one line here.
    public static let registry: [String: any MethodRecipe.Type] = [
        "simmim": SimMIMRecipe.self,
        "mae": MAERecipe.self,
        "maskalign": MaskAlignRecipe.self,
        "supervised": SupervisedRecipe.self,
    ]

    public static var names: [String] { registry.keys.sorted() }

    public static func recipe(_ config: RunConfig) throws -> any MethodRecipe.Type {
        guard let r = registry[config.method] else {
            throw ConfigError("method = \(config.method): valid values are \(names.joined(separator: ", "))")
        }
        return r
    }

    /// FLOPs per image of a fine-tuning step (and, as `forward`, of evaluation) for the
    /// encoder the config pre-trains.
    public static func finetuneFlopsPerImage(_ config: RunConfig) -> FlopCount {
        if let swin = config.encoder.swin {
            return FineTuneModel.flops(SwinEncoder.flops(swin), dim: swin.outputDim, classes: config.data.classes)
        }
        let vit = config.encoder.vit
        let prefix = ((try? recipe(config))?.encoderOptions.classToken ?? false) ? 1 : 0
        return FineTuneModel.flops(ViTEncoder.flops(vit, prefixTokens: prefix, kept: nil), dim: vit.dim,
                                   classes: config.data.classes)
    }
}

/// For methods that drop single tokens and bring their own target: `mask.patch` must be
/// the encoder's patch, and SimMIM's `head` and `target` sections must keep their defaults.
func refuseSimMIMSettings(_ r: ConfigReader, _ c: RunConfig, method: String, instead: String) throws {
    let vit = c.encoder.vit
    if c.mask.patch != vit.patchSize {
        throw ConfigError("\(r.origin("mask.patch")): mask.patch = \(c.mask.patch): method \(method) masks single tokens; set mask.patch = \(vit.patchSize) (encoder.patch)")
    }
    let d = RunConfig()
    for (field, isDefault) in [("head.type", c.head.type == d.head.type), ("head.depth", c.head.depth == d.head.depth),
                               ("head.width", c.head.width == d.head.width), ("head.heads", c.head.heads == d.head.heads),
                               ("target.type", c.target.type == d.target.type),
                               ("target.pred_resolution", c.target.predResolution == d.target.predResolution),
                               ("target.loss_on", c.target.lossOn == d.target.lossOn)] where !isDefault {
        throw ConfigError("\(r.origin(field)): \(field) is a SimMIM setting that method \(method) does not use; \(instead)")
    }
}
