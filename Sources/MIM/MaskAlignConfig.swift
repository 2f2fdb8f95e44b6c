import NN

/// How student levels are matched to teacher levels (the paper's alignment ablation):
/// the learnable Dynamic Alignment matrix (official `fusion_type: linear`) or plain
/// layer-wise pairing (`fusion_type: simple`).
public enum AlignmentStrategy: String, Codable, CaseIterable, Sendable { case dynamic, layerwise }

/// The per-level adapter into the teacher's width (official `head_type`).
public enum AdapterKind: String, Codable, CaseIterable, Sendable {
    case linear
    case normLinear = "norm-linear"
    case mlp
}

/// Which patches stay visible: drawn by the teacher's attention (official `mask_type:
/// attention`) or uniformly at random (`random`, sorted noise as MAE).
public enum MaskAlignMasking: String, Codable, CaseIterable, Sendable { case attentive, random }

/// MaskAlign's own axes (the run config's `maskalign:` section). Defaults are the official
/// recipe (`--loss_weights top5 --fusion_type linear --head_type linear --mask_type attention`).
public struct MaskAlignConfig: Codable, Equatable, Sendable {
    /// The teacher's identity: `run:<run id>` when named by run id, `sha256:<hex>` of the
    /// checkpoint file when named by path. It is what the run id sees of the teacher.
    public var teacher = ""
    /// Where the teacher checkpoint was found; left out of the canonical JSON (a moved file
    /// is the same teacher).
    public var teacherPath: String? = nil
    /// The teacher's shape, read from its checkpoint: the adapters' output width, its
    /// blocks, MLP width and class token (for the cost model, and to refuse a checkpoint
    /// that changed under the same name).
    public var teacherDim = 0
    public var teacherDepth = 0
    public var teacherHidden = 0
    public var teacherClassToken = false
    /// K: the loss is the mean over the teacher's last K levels (official `top5`).
    public var levels = 5
    public var alignment: AlignmentStrategy = .dynamic
    public var adapter: AdapterKind = .linear
    public var masking: MaskAlignMasking = .attentive

    public init() {}

    /// Throws a `ConfigFieldError` naming the first bad field.
    public func validate(student vit: ViTConfig, maskRatio: Double) throws {
        if levels < 1 || levels > teacherDepth {
            throw ConfigFieldError(field: "maskalign.levels",
                "maskalign.levels = \(levels): must be between 1 and the teacher's depth \(teacherDepth)")
        }
        if alignment == .layerwise && levels > vit.depth {
            throw ConfigFieldError(field: "maskalign.levels",
                "maskalign.levels = \(levels): layer-wise alignment pairs each of the last \(levels) teacher levels with a student block, and the student has \(vit.depth)")
        }
        if vit.dim % 4 != 0 {
            throw ConfigFieldError(field: "encoder.dim", "encoder.dim = \(vit.dim): the student's 2-D sin-cos position embedding needs a multiple of 4")
        }
        let k = MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        if k < 1 {
            throw ConfigFieldError(field: "mask.ratio",
                "mask.ratio = \(maskRatio): MaskAlign keeps int(\(vit.tokens) × (1 − ratio)) = 0 tokens; it must keep at least 1")
        }
    }
}
