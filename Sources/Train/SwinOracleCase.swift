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
public struct SwinOracleCase {
    public static let format = "simmim-swin-oracle-v1"

    public let path: String
    public let file: SafetensorsFile
    public let config: SwinConfig
    public let numClasses: Int
    public let optim: OracleCase.Optim
    public let noDecay: Set<String>?

    public init(path: String) throws {
        self.path = path
        let file = try SafetensorsFile(contentsOf: path)
        self.file = file
        let c = try OracleCase.json(file, "config", path), o = try OracleCase.json(file, "optim", path)
        func int(_ k: String, _ def: Int) -> Int { (c[k] as? NSNumber)?.intValue ?? def }
        func ints(_ k: String) throws -> [Int] {
            guard let v = c[k] as? [NSNumber] else { throw OracleError("\(path): metadata 'config' lacks the list '\(k)'") }
            return v.map(\.intValue)
        }
        let cfg = SwinConfig(imageSize: int("img_size", 16), patchSize: int("patch_size", 2), channels: int("in_chans", 3),
                             embedDim: int("embed_dim", 16), depths: try ints("depths"), heads: try ints("num_heads"),
                             window: int("window_size", 4), mlpRatio: (c["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4)
        do { try cfg.validate() } catch { throw OracleError("\(path): metadata 'config': \(error)") }
        config = cfg
        numClasses = int("num_classes", 10)
        optim = OracleCase.Optim(o, beta2: 0.999)
        noDecay = try file.oracleNoDecay(path: path)
        try file.requireOracleTensors(["input.images", "input.mask"], path: path)
    }

    public var batch: Int { file.tensors["input.images"]!.shape.first ?? 0 }

    public func run(steps withSteps: Bool = true, finetune withFinetune: Bool = true) throws -> [String: Tensor] {
        let B = batch, c = config
        let images = try OracleCase.images(file, path: path, channels: c.channels, imageSize: c.imageSize)
        let maskT = file.tensors["input.mask"]!
        guard maskT.count == B * c.tokens else {
            throw OracleError("\(path): input.mask has shape \(maskT.shape), expected [\(B), \(c.grid), \(c.grid)]")
        }
        let mask = maskT.array
        var out: [String: Tensor] = [:]
        let model = try SimMIMSwin(c, .official)
        try model.load(file.tensors)
        if let noDecay { for p in model.parameters { p.weightDecay = !noDecay.contains(p.name) } }

        model.zeroGrad()
        let loss = model.forwardBackward(images, mask: mask, batch: B)
        out["output.loss"] = Tensor(scalar: Float(loss))
        out["output.pred"] = model.reconstruction()
        out["output.grad_norm"] = Tensor(scalar: Float(model.gradNorm()))
        for p in model.parameters { out["grad." + p.name] = p.grad.clone() }

        if withFinetune, file.tensors["cls_head.weight"] != nil {
            try OracleCase.fineTune(file, path: path, encoder: model.encoder, classes: numClasses, images: images, batch: B, into: &out)
        }

        if withSteps && optim.steps > 0 {
            optim.run(model, into: &out,
                      forwardBackward: { model.forwardBackward(images, mask: mask, batch: B) },
                      forward: { model.forward(images, mask: mask, batch: B) })
        }
        return out
    }
}
