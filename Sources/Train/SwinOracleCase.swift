import Foundation
import MIM
import NN
import Tensor

/// A SimMIM-on-Swin oracle case (`scripts/oracle/swin_ref.py`, format
/// `simmim-swin-oracle-v1`): timm `SwinTransformer` weights under `encoder.`, the mask
/// token, the 1×1 `decoder`, `cls_head`, images, the mask on the first stage's grid and
/// labels. `run()` writes what the float64 reference writes, under its names: loss,
/// reconstruction, grad norm, every gradient, parameters after AdamW steps, step losses,
/// fine-tune logits, loss and gradients.
public struct SwinOracleCase: OracleCaseFileBacked {
    public static let format = "simmim-swin-oracle-v1"

    public let source: OracleCaseFile
    public let config: SwinConfig
    public let numClasses: Int

    public init(path: String) throws {
        source = try OracleCaseFile(path: path, beta2: 0.999, inputs: ["input.images", "input.mask"])
        let c = source.config
        // Every size bounded before anything is allocated, as `OracleCase.vitConfig`.
        func int(_ k: String, _ def: Int, _ r: ClosedRange<Int>) throws -> Int { try OracleCase.bounded(c, k, def, r, path: path) }
        func ints(_ k: String, _ r: ClosedRange<Int>) throws -> [Int] {
            guard let v = c[k] as? [NSNumber], (1...8).contains(v.count) else {
                throw OracleError("\(path): metadata 'config' lacks the list '\(k)' (1 to 8 stages)")
            }
            return try v.map(\.intValue).map { n in
                guard r.contains(n) else { throw OracleError("\(path): metadata \(k) holds \(n): must be \(r.lowerBound) to \(r.upperBound)") }
                return n
            }
        }
        let size = try int("img_size", 16, 1...RunConfig.Bounds.imageSize)
        let cfg = SwinConfig(imageSize: size, patchSize: try int("patch_size", 2, 1...size), channels: try int("in_chans", 3, 1...64),
                             embedDim: try int("embed_dim", 16, 1...RunConfig.Bounds.width),
                             depths: try ints("depths", 1...RunConfig.Bounds.depth), heads: try ints("num_heads", 1...RunConfig.Bounds.heads),
                             window: try int("window_size", 4, 1...size), mlpRatio: (c["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4)
        guard (0...1024.0).contains(cfg.mlpRatio) else { throw OracleError("\(path): metadata mlp_ratio = \(cfg.mlpRatio): must be 0 to 1024") }
        do { try cfg.validate() } catch { throw OracleError("\(path): metadata 'config': \(error)") }
        config = cfg
        numClasses = try int("num_classes", 10, 2...100_000)
    }

    public func run(steps withSteps: Bool = true, finetune withFinetune: Bool = true) throws -> [String: Tensor] {
        let B = batch, c = config
        let images = try OracleCase.images(file, path: path, channels: c.channels, imageSize: c.imageSize)
        let mask = try OracleCase.mask(file, path: path, batch: B, grid: c.grid)
        var out: [String: Tensor] = [:]
        let model = try SimMIMSwin(c, .official)
        try OracleCase.simmimStep(model, file: file, noDecay: noDecay, images: images, mask: mask, batch: B, into: &out)

        if withFinetune, file.tensors["cls_head.weight"] != nil {
            try OracleCase.fineTune(file, path: path, encoder: model.encoder, classes: numClasses, images: images, batch: B, into: &out)
        }

        if withSteps && optim.steps > 0 { optim.run(model, images: images, mask: mask, batch: B, into: &out) }
        return out
    }
}
