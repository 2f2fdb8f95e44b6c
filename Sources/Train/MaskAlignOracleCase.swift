import Foundation
import MIM
import NN
import Tensor

/// One MaskAlign oracle case (`scripts/oracle/maskalign_ref.py`): student, adapter and
/// alignment weights under the official `models_pretrain.py` names, the teacher under
/// `teacher.` in timm's layout, images and the sampling noise (Exp(1) for attentive masking,
/// uniform for random), the model and optimiser settings in the metadata. `run()` computes
/// what the float64 reference writes: loss, kept ids, importance, the teacher's last
/// attention, every trainable gradient, the parameters after N AdamW steps.
public struct MaskAlignOracleCase: OracleCaseFileBacked {
    public static let format = "maskalign-oracle-v1"
    public static let integerOutputs: Set<String> = ["output.ids_keep"]

    public let source: OracleCaseFile
    public let config: ViTConfig
    public let maskRatio: Double
    public let teacherHeads: Int
    public let alignConfig: MaskAlignConfig

    public init(path: String) throws {
        source = try OracleCaseFile(path: path, beta2: 0.95, inputs: ["input.images", "input.noise"])
        let c = source.config
        func str(_ k: String, _ def: String) -> String { (c[k] as? String) ?? def }
        config = try OracleCase.vitConfig(c, path: path, dim: 32, depth: 3)
        maskRatio = (c["mask_ratio"] as? NSNumber)?.doubleValue ?? 0.5
        guard (0..<1).contains(maskRatio) else { throw OracleError("\(path): metadata mask_ratio = \(maskRatio): must be in [0, 1)") }
        teacherHeads = try OracleCase.bounded(c, "teacher_num_heads", 2, 1...RunConfig.Bounds.heads, path: path)
        var m = MaskAlignConfig()
        m.levels = try OracleCase.bounded(c, "levels", 5, 1...RunConfig.Bounds.depth, path: path)
        let fusion = ["linear": AlignmentStrategy.dynamic, "simple": .layerwise]
        let heads = ["linear": AdapterKind.linear, "norm_linear": .normLinear, "mlp": .mlp]
        let masks = ["attention": MaskAlignMasking.attentive, "random": .random]
        guard let a = fusion[str("fusion_type", "linear")], let h = heads[str("head_type", "linear")],
              let k = masks[str("mask_type", "attention")] else {
            throw OracleError("\(path): metadata 'config': fusion_type, head_type or mask_type not one mimlab implements")
        }
        m.alignment = a; m.adapter = h; m.masking = k
        alignConfig = m
    }

    /// The model with the case's weights and no-decay list; the teacher through the same
    /// loader as a timm-style checkpoint.
    public func model() throws -> MaskAlign {
        let prefix = "teacher."
        let teacherFile = SafetensorsFile(tensors: file.tensors.filter { $0.key.hasPrefix(prefix) },
                                          metadata: ["num_heads": String(teacherHeads)])
        let teacher = try TeacherCheckpoint(teacherFile, path: path, prefix: prefix, imageSize: config.imageSize)
        let model: MaskAlign
        do { model = try MaskAlign(config, alignConfig, teacher: MaskAlignTeacher(teacher.encoder), maskRatio: maskRatio) } catch {
            throw OracleError("\(path): metadata 'config': \(error)")
        }
        var byOurName: [String: Tensor] = [:]
        for p in model.parameters {
            let official = MaskAlign.officialName(p.name)
            guard let t = file.tensors[official] else { throw OracleError("\(path): missing tensor '\(official)'") }
            byOurName[p.name] = t
        }
        try model.load(byOurName)
        if let noDecay { for p in model.parameters { p.weightDecay = !noDecay.contains(MaskAlign.officialName(p.name)) } }
        return model
    }

    public func run(steps withSteps: Bool = true) throws -> [String: Tensor] {
        let B = batch, L = config.tokens, K = MAEConfig.keptTokens(tokens: L, maskRatio: maskRatio)
        let images = file.tensors["input.images"]!, noise = file.tensors["input.noise"]!
        guard images.count == B * config.channels * config.imageSize * config.imageSize, noise.count == B * L else {
            throw OracleError("\(path): input.images \(images.shape) or input.noise \(noise.shape) does not fit [B, \(config.channels), \(config.imageSize), \(config.imageSize)] and [B, \(L)]")
        }
        let model = try self.model()
        var out: [String: Tensor] = [:]
        model.setNoise(noise.array, batch: B)
        model.zeroGrad()
        out["output.loss"] = Tensor(scalar: Float(model.step(images, batch: B)))
        out["output.grad_norm"] = Tensor(scalar: Float(model.gradNorm()))
        out["output.ids_keep"] = Tensor(shape: [B, K], values: model.masking!.idsKeep.map(Float.init))
        if alignConfig.masking == .attentive { out["output.importance"] = Tensor(shape: [B, L], values: model.importance) }
        let attention = model.teacher.lastAttention.clone()
        out["output.teacher_attention"] = attention
        for p in model.parameters { out["grad." + MaskAlign.officialName(p.name)] = p.grad.clone() }
        if withSteps && optim.steps > 0 {
            optim.run(model, into: &out, name: MaskAlign.officialName) {
                model.setNoise(noise.array, batch: B)
                return model.step(images, batch: B)
            } forward: {
                model.setNoise(noise.array, batch: B)
                return model.forward(images, batch: B)
            }
        }
        return out
    }
}
