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

/// A teacher's shape, read from its checkpoint: the adapters' output width, its blocks (the
/// levels there are to align), its MLP width and class token (for the cost model).
public struct TeacherShape: Codable, Equatable, Sendable {
    public var dim: Int
    public var depth: Int
    public var hidden: Int
    public var classToken: Bool

    public init(dim: Int, depth: Int, hidden: Int, classToken: Bool) {
        self.dim = dim; self.depth = depth; self.hidden = hidden; self.classToken = classToken
    }
}

/// MaskAlign's own axes (the run config's `maskalign:` section). Defaults are the official
/// recipe (`--loss_weights top5 --fusion_type linear --head_type linear --mask_type attention`).
public struct MaskAlignConfig: Codable, Equatable, Sendable {
    /// The teacher's identity: `run:<run id>` when named by run id, `sha256:<hex>` of the
    /// checkpoint file when named by path. It is all the run id sees of the teacher, so a
    /// config named by run id has its id before the teacher exists (a sweep can be planned
    /// and tabled on any clone).
    public var teacher = ""
    /// Left out of the canonical JSON: where the checkpoint was found (a moved file is the
    /// same teacher), its shape (when it was found; the identity already fixes it) and
    /// `maskalign.teacher_dim`, the width the user says the adapters must produce (a check).
    public var teacherPath: String? = nil
    public var teacherShape: TeacherShape? = nil
    public var teacherDim: Int? = nil
    /// K: the loss is the mean over the teacher's last K levels (official `top5`).
    public var levels = 5
    public var alignment: AlignmentStrategy = .dynamic
    public var adapter: AdapterKind = .linear
    public var masking: MaskAlignMasking = .attentive

    public init() {}

    /// The teacher's shape for the cost model: the checkpoint's when it was read, else the
    /// student's (an in-harness teacher from an MAE run has it).
    public func costShape(student vit: ViTConfig) -> TeacherShape {
        teacherShape ?? TeacherShape(dim: vit.dim, depth: vit.depth, hidden: vit.mlpHidden, classToken: true)
    }

    /// The config without what is not its identity (`RunConfig.canonicalJSON`).
    public var canonical: MaskAlignConfig {
        var c = self
        c.teacherPath = nil; c.teacherShape = nil; c.teacherDim = nil
        return c
    }

    /// Throws a `ConfigFieldError` naming the first bad field; the checks that need the
    /// teacher's shape run when it is known.
    public func validate(student vit: ViTConfig, maskRatio: Double) throws {
        if let t = teacherShape {
            if let d = teacherDim, d != t.dim {
                throw ConfigFieldError(field: "maskalign.teacher_dim",
                    "maskalign.teacher_dim = \(d): the adapters would produce \(d) features, the teacher's width (patch_embed.proj.weight) is \(t.dim)")
            }
            if levels > t.depth {
                throw ConfigFieldError(field: "maskalign.levels",
                    "maskalign.levels = \(levels): must be at most the teacher's depth \(t.depth)")
            }
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
