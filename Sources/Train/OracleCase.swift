import Foundation
import MIM
import NN
import Tensor

/// One oracle "case" (see shared/oracle/README.md): weights, images, mask and labels in a
/// safetensors file, with the model and optimiser settings in its metadata. `run()`
/// computes every quantity the float64 PyTorch reference writes, under the same names:
/// the SimMIM loss, reconstruction, activations and gradients, the parameters after N
/// AdamW steps on the same batch, and the fine-tune logits, loss and gradients.
public struct OracleCase: OracleCaseFileBacked {
    public struct Optim: Sendable {
        public var lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
        public var weightDecay: Float = 0.05, steps = 3, clipGrad: Float = 0
    }

    public let source: OracleCaseFile
    public let config: ViTConfig
    public let numClasses: Int

    public init(path: String) throws {
        source = try OracleCaseFile(path: path, beta2: 0.999, inputs: ["input.images", "input.mask"])
        let c = source.config
        config = try OracleCase.vitConfig(c, path: path, dim: 128, depth: 6)
        numClasses = try OracleCase.bounded(c, "num_classes", 10, 2...100_000, path: path)
    }

    /// An integer of the metadata, within `range`: bounded before anything is allocated, as
    /// a case file is data, and data can ask for terabytes.
    static func bounded(_ d: [String: Any], _ key: String, _ def: Int, _ range: ClosedRange<Int>, path: String) throws -> Int {
        let value = (d[key] as? NSNumber)?.intValue ?? def
        guard range.contains(value) else {
            throw OracleError("\(path): metadata \(key) = \(value): must be \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// The ViT of a case's `config` metadata (timm's names), every size bounded.
    static func vitConfig(_ c: [String: Any], path: String, dim: Int, depth: Int) throws -> ViTConfig {
        func int(_ k: String, _ def: Int, _ r: ClosedRange<Int>) throws -> Int { try bounded(c, k, def, r, path: path) }
        func dbl(_ k: String, _ def: Double) -> Double { (c[k] as? NSNumber)?.doubleValue ?? def }
        let size = try int("img_size", 32, 1...RunConfig.Bounds.imageSize)
        let cfg = ViTConfig(imageSize: size, patchSize: try int("patch_size", 4, 1...size),
                            channels: try int("in_chans", 3, 1...64), dim: try int("embed_dim", dim, 1...RunConfig.Bounds.width),
                            depth: try int("depth", depth, 1...RunConfig.Bounds.depth), heads: try int("num_heads", 4, 1...RunConfig.Bounds.heads),
                            mlpRatio: dbl("mlp_ratio", 4), lnEps: Float(dbl("ln_eps", 1e-6)))
        guard (0...1024.0).contains(cfg.mlpRatio) else { throw OracleError("\(path): metadata mlp_ratio = \(cfg.mlpRatio): must be 0 to 1024") }
        do { try cfg.validate() } catch { throw OracleError("\(path): metadata 'config': \(error)") }
        return cfg
    }

    static func json(_ file: SafetensorsFile, _ key: String, _ path: String) throws -> [String: Any] {
        guard let s = file.metadata[key] else { return [:] }
        guard let d = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] else {
            throw OracleError("\(path): metadata '\(key)' is not a JSON object")
        }
        return d
    }

    /// The case's `input.images`, checked to be `[B, channels, size, size]`.
    static func images(_ file: SafetensorsFile, path: String, channels: Int, imageSize: Int) throws -> Tensor {
        let images = file.tensors["input.images"]!
        let B = images.shape.first ?? 0
        guard images.count == B * channels * imageSize * imageSize else {
            throw OracleError("\(path): input.images has shape \(images.shape), expected [B, \(channels), \(imageSize), \(imageSize)]")
        }
        return images
    }

    /// The case's `input.mask`: `batch` masks on a `grid`×`grid` token grid.
    static func mask(_ file: SafetensorsFile, path: String, batch B: Int, grid: Int) throws -> [Float] {
        let maskT = file.tensors["input.mask"]!
        guard maskT.count == B * grid * grid else {
            throw OracleError("\(path): input.mask has shape \(maskT.shape), expected [\(B), \(grid), \(grid)]")
        }
        return maskT.array
    }

    /// SimMIM on either backbone: the case's weights and no-decay list into `model`, one
    /// forward and backward: `output.loss`, `output.pred`, `output.grad_norm`, `grad.<name>`.
    static func simmimStep(_ model: some SimMIMFamily, file: SafetensorsFile, noDecay: Set<String>?, images: Tensor,
                           mask: [Float], batch B: Int, into out: inout [String: Tensor]) throws {
        try model.load(file.tensors)
        if let noDecay { for p in model.parameters { p.weightDecay = !noDecay.contains(p.name) } }
        model.zeroGrad()
        let loss = model.forwardBackward(images, mask: mask, batch: B)
        out["output.loss"] = Tensor(scalar: Float(loss))
        out["output.pred"] = model.reconstruction()
        out["output.grad_norm"] = Tensor(scalar: Float(model.gradNorm()))
        for p in model.parameters { out["grad." + p.name] = p.grad.clone() }
    }

    /// The fine-tune half of a case (`cls_head.*` present): a fresh `FineTuneModel` of
    /// `encoder`'s architecture with the case's weights, one forward and backward on
    /// `input.labels`: `ft.logits`, `ft.loss`, `ft.grad.<name>`.
    static func fineTune(_ file: SafetensorsFile, path: String, encoder: any ImageEncoder, classes: Int, images: Tensor,
                         batch B: Int, into out: inout [String: Tensor]) throws {
        guard let labels = file.integers["input.labels"]?.values, labels.count == B else {
            throw OracleError("\(path): input.labels missing or not \(B) integers")
        }
        let ft = FineTuneModel(encoder: encoder, classes: classes)
        try ft.load(file.tensors)
        ft.zeroGrad()
        let (ftLoss, logits) = ft.forwardBackward(images, labels: labels, batch: B)
        out["ft.logits"] = logits.clone()
        out["ft.loss"] = Tensor(scalar: Float(ftLoss))
        for p in ft.parameters { out["ft.grad." + p.name] = p.grad.clone() }
    }

    /// Runs the case; `steps`/`finetune` false skip those parts.
    public func run(steps withSteps: Bool = true, finetune withFinetune: Bool = true) throws -> [String: Tensor] {
        let B = batch, L = config.tokens, D = config.dim
        let images = try OracleCase.images(file, path: path, channels: config.channels, imageSize: config.imageSize)
        let mask = try OracleCase.mask(file, path: path, batch: B, grid: config.grid)
        var out: [String: Tensor] = [:]

        let model = SimMIM(config)
        try OracleCase.simmimStep(model, file: file, noDecay: noDecay, images: images, mask: mask, batch: B, into: &out)
        let enc = model.encoder
        func act(_ t: Tensor) -> Tensor { let c = t.clone(); c.reshape([B, L, D]); return c }
        out["act.embed"] = act(enc.patchEmbed.proj.output)
        out["act.tokens_in"] = act(enc.tokens)
        for i in 0..<config.depth { out["act.block.\(i)"] = act(enc.blockOutput(i)) }
        out["act.encoder_out"] = act(enc.norm.output)

        if withSteps && optim.steps > 0 { optim.run(model, images: images, mask: mask, batch: B, into: &out) }

        if withFinetune, file.tensors["cls_head.weight"] != nil {
            try OracleCase.fineTune(file, path: path, encoder: ViTEncoder(config), classes: numClasses, images: images, batch: B, into: &out)
            // The reference's fine-tune model keeps the (unused) mask token: its gradient is zero.
            out["ft.grad." + model.maskToken.name] = Tensor(shape: model.maskToken.value.shape)
        }
        return out
    }
}

public struct OracleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension OracleCase.Optim {
    /// The AdamW steps of a SimMIM case (ViT or Swin) on its batch and masks.
    func run(_ model: some SimMIMFamily, images: Tensor, mask: [Float], batch B: Int, into out: inout [String: Tensor]) {
        run(model, into: &out, forwardBackward: { model.forwardBackward(images, mask: mask, batch: B) },
            forward: { model.forward(images, mask: mask, batch: B) })
    }

    /// From the case's `optim` metadata; `beta2` is the method's default (SimMIM 0.999, MAE 0.95).
    init(_ o: [String: Any], beta2: Float, path: String) throws {
        func dbl(_ k: String, _ def: Double) -> Double { (o[k] as? NSNumber)?.doubleValue ?? def }
        self.init()
        lr = Float(dbl("lr", 1e-3)); beta1 = Float(dbl("beta1", 0.9)); self.beta2 = Float(dbl("beta2", Double(beta2)))
        eps = Float(dbl("eps", 1e-8)); weightDecay = Float(dbl("weight_decay", 0.05))
        steps = try OracleCase.bounded(o, "steps", 3, 0...RunConfig.Bounds.epochs, path: path); clipGrad = Float(dbl("clip_grad", 0))
    }

    /// The oracle's AdamW steps (every case alike): the parameters after step 1 and the last
    /// step as `step<s>.<name>` (`name` maps ours to the reference's), and every step's loss
    /// plus the loss after the last one as `output.step_losses`.
    func run(_ model: Module, into out: inout [String: Tensor], name: (String) -> String = { $0 },
             forwardBackward: () -> Double, forward: () -> Double) {
        let opt = AdamW(model.parameters, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        var losses: [Float] = []
        for s in 1...steps {
            model.zeroGrad()
            losses.append(Float(forwardBackward()))
            if clipGrad > 0 { clipGradNorm(model.parameters, maxNorm: clipGrad) }
            opt.update(lr: lr)
            if s == 1 || s == steps {
                for p in model.parameters { out["step\(s).\(name(p.name))"] = p.value.clone() }
            }
        }
        losses.append(Float(forward()))
        out["output.step_losses"] = Tensor(shape: [losses.count], values: losses)
    }
}
