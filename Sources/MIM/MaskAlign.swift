import Foundation
import NN
import Tensor

/// MaskAlign (Xue et al. 2023, official `models_pretrain.py`): no reconstruction. The
/// student (the MAE ViT: class token, fixed sin-cos position, no mask token, no decoder)
/// encodes the visible patches only; a frozen teacher sees the whole image. Each of the
/// teacher's last K levels is a target: its block output whitened (LayerNorm without
/// affine) and taken at the student's tokens (class token, then the visible patches in the
/// order kept). The student side of level t is an adapter applied to the Dynamic Alignment
/// mix of every student block's output (or to the matching block, layer-wise); the loss is
/// the mean over the K levels of 2 · smooth-L1 (β = 1).
///
/// Where this differs from the official code: only the K aligned levels get an adapter
/// (the official code builds one per teacher level and weights the others 0, so theirs
/// never get a gradient), the matrix is `[T, S]` for any depths (`DynamicAlignment`), and
/// a teacher without a class token (a SimMIM run) has no target for the student's class
/// token, which is then left out of the loss and its mean.
public final class MaskAlign: PretrainMethod {
    public let student: ViTEncoder
    public let teacher: MaskAlignTeacher
    public let adapters: [MaskAlignAdapter]
    /// nil with layer-wise alignment.
    public let alignment: DynamicAlignment?
    public let loss = FeatureAlignmentLoss()
    public let config: ViTConfig
    public let alignConfig: MaskAlignConfig
    public let maskRatio: Double
    /// Patches kept per image, `int(L·(1 − ratio))` as the official code.
    public let kept: Int
    /// The teacher levels aligned, in order: its last K blocks.
    public let teacherLevels: [Int]
    /// The current masks (set in the step for attentive masking).
    public private(set) var masking: TokenMasking?
    /// The attentive sampling noise, q ~ Exp(1) per patch (`drawMasks` or `setNoise`).
    public private(set) var noise: [Float]?
    /// The last step's patch importance `[B·L]` (attentive masking).
    public private(set) var importance: [Float] = []
    /// The last step's targets and adapter outputs per aligned level, `[B·(1 + K), C]`.
    public private(set) var targets: [Tensor] = []
    public private(set) var predictions: [Tensor] = []
    public private(set) var levelLosses: [Double] = []

    private var grads: [Tensor] = []
    private let whitened = Tensor(shape: [0])
    private let gradOut = Tensor(shape: [0])
    private var rowWeights: [Float] = []
    private var batch = 0

    public init(_ vit: ViTConfig, _ given: MaskAlignConfig, teacher: MaskAlignTeacher, maskRatio: Double) throws {
        var cfg = given
        cfg.teacherShape = TeacherShape(dim: teacher.dim, depth: teacher.depth, hidden: teacher.encoder.config.mlpHidden,
                                        classToken: teacher.hasClassToken)
        try vit.validate()
        try cfg.validate(student: vit, maskRatio: maskRatio)
        guard teacher.encoder.tokenCount == vit.tokens else {
            throw ConfigFieldError(field: "maskalign.teacher",
                "maskalign.teacher has \(teacher.encoder.tokenCount) patch tokens per image and the student \(vit.tokens); the teacher must see the student's grid")
        }
        config = vit
        alignConfig = cfg
        self.maskRatio = maskRatio
        self.teacher = teacher
        kept = MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        student = ViTEncoder(vit, options: .mae)
        let T = teacher.depth
        teacherLevels = Array((T - cfg.levels)..<T)
        adapters = teacherLevels.map {
            MaskAlignAdapter("distill_heads.\($0)", kind: cfg.adapter, dim: vit.dim, targetDim: teacher.dim, eps: vit.lnEps)
        }
        alignment = cfg.alignment == .dynamic ? DynamicAlignment(teacherLevels: T, studentLevels: vit.depth) : nil
        targets = teacherLevels.map { _ in Tensor(shape: [0]) }
        grads = teacherLevels.map { _ in Tensor(shape: [0]) }
    }

    public var parameters: [Parameter] {
        student.parameters + adapters.flatMap(\.parameters) + (alignment?.parameters ?? [])
    }
    public var backbone: any ImageEncoder { student }
    /// Official `main_pretrain.py`: `AdamW(betas=(0.9, 0.95))`, lr = blr · batch / 256.
    public var betas: (Float, Float) { (0.9, 0.95) }
    public var referenceBatch: Int { 256 }

    /// The official `initialize_weights` (MAE's, which it copies), then the alignment
    /// matrix at identity + 0.01.
    public func initialize(_ rng: inout PRNG) {
        MAE.officialInitialize(student.parameters + adapters.flatMap(\.parameters), encoder: student, config: config, &rng)
        alignment?.initialize()
    }

    public func drawMasks(batch: Int, _ rng: inout PRNG) {
        switch alignConfig.masking {
        case .random:
            masking = TokenMasking.draw(batch: batch, tokens: config.tokens, kept: kept, &rng)
        case .attentive:
            noise = AttentiveMasking.drawNoise(count: batch * config.tokens, &rng)
            masking = nil
        }
    }

    /// The sampling noise from outside (an oracle case's `input.noise`): exponential noise
    /// for attentive masking, uniform noise (sorted, as MAE) for random masking.
    public func setNoise(_ values: [Float], batch: Int) {
        switch alignConfig.masking {
        case .random: masking = TokenMasking(noise: values, batch: batch, kept: kept)
        case .attentive: noise = values; masking = nil
        }
    }

    public func step(_ images: Tensor, batch: Int) -> Double {
        let l = forward(images, batch: batch)
        backward()
        return l
    }

    /// Loss of one batch: the teacher, the masks, the student on the visible patches, the
    /// aligned levels.
    public func forward(_ images: Tensor, batch B: Int) -> Double {
        self.batch = B
        let L = config.tokens, K = kept, R = B * (1 + K)
        let m = masks(for: images, batch: B)
        masking = m
        var noRNG: PRNG? = nil
        student.encode(student.embed(images, batch: B), batch: B, keep: m.idsKeep, rng: &noRNG)
        let levels = (0..<config.depth).map { student.features(ofBlock: $0) }
        let mixed = alignment?.forward(levels, rows: teacherLevels)
            ?? teacherLevels.map { levels[$0 - teacher.depth + config.depth] }
        let pT = teacher.hasClassToken ? 1 : 0, C = teacher.dim
        rowWeights = (0..<R).map { $0 % (1 + K) == 0 && pT == 0 ? 0 : 1 }
        predictions = []
        levelLosses = []
        var total = 0.0
        let w = 1 / Double(teacherLevels.count)
        for (j, t) in teacherLevels.enumerated() {
            FeatureAlignmentLoss.whiten(teacher.features(ofBlock: t), dim: C, into: whitened)
            MaskAlign.gather(whitened, prefix: pT, tokens: L, keep: m.idsKeep, batch: B, dim: C, into: targets[j])
            let pred = adapters[j].forward(mixed[j])
            predictions.append(pred)
            let l = loss.forward(pred: pred, patches: targets[j], weights: rowWeights, grad: grads[j])
            levelLosses.append(l)
            total += w * l
            let G = grads[j].data
            for i in 0..<grads[j].count { G[i] *= Float(w) }
        }
        return total
    }

    /// Runs the teacher on `images` and returns the masks of the step (for attentive masking,
    /// ranked from its attention and the drawn noise).
    public func masks(for images: Tensor, batch B: Int) -> TokenMasking {
        teacher.forward(images, batch: B)
        switch alignConfig.masking {
        case .random:
            guard let drawn = masking, drawn.batch == B else { preconditionFailure("MaskAlign.forward: no masks drawn for \(B) images") }
            return drawn
        case .attentive:
            guard let q = noise, q.count == B * config.tokens else { preconditionFailure("MaskAlign.forward: no noise drawn for \(B) images") }
            let prefix = teacher.hasClassToken ? 1 : 0
            importance = AttentiveMasking.importance(attention: teacher.lastAttention, batch: B, heads: teacher.heads, prefix: prefix)
            return AttentiveMasking.masking(importance: importance, noise: q, batch: B, kept: kept)
        }
    }

    /// Accumulates every parameter gradient of the last `forward`.
    public func backward() {
        let dMixed = adapters.indices.map { adapters[$0].backward(grads[$0]) }
        if let alignment {
            for (s, g) in alignment.backward(dMixed).enumerated() { student.addGradient(g, atBlock: s) }
        } else {
            for (j, t) in teacherLevels.enumerated() { student.addGradient(dMixed[j], atBlock: t - teacher.depth + config.depth) }
        }
        // The student's final norm feeds no target: its output gradient is zero.
        gradOut.resize([batch * (1 + kept), config.dim], zeroed: true)
        student.backwardEmbedding(student.backward(gradOut))
    }

    /// Teacher rows `[B·(prefix + L), C]` → one row per student token `[B·(1 + K), C]`: the
    /// teacher's class token (zeros without one), then the kept patches in order.
    static func gather(_ x: Tensor, prefix: Int, tokens L: Int, keep: [Int32], batch B: Int, dim C: Int, into out: Tensor) {
        let K = keep.count / B, S = prefix + L
        out.resize([B * (1 + K), C], zeroed: true)
        let X = x.data, O = out.data
        for b in 0..<B {
            if prefix > 0 { (O + b * (1 + K) * C).update(from: X + b * S * C, count: C) }
            for r in 0..<K {
                (O + (b * (1 + K) + 1 + r) * C).update(from: X + (b * S + prefix + Int(keep[b * K + r])) * C, count: C)
            }
        }
    }

    public var flopsPerImage: FlopCount { MaskAlign.flopsPerImage(config, alignConfig, maskRatio: maskRatio) }

    /// The student on 1 + K tokens, the alignment mix and the adapters (forward and
    /// backward), the teacher's forward pass on every patch.
    public static func flopsPerImage(_ vit: ViTConfig, _ cfg: MaskAlignConfig, maskRatio: Double) -> FlopCount {
        let k = MAEConfig.keptTokens(tokens: vit.tokens, maskRatio: maskRatio)
        let t = cfg.costShape(student: vit)
        let rows = Double(1 + k), D = Double(vit.dim), C = Double(t.dim), K = Double(cfg.levels)
        let enc = ViTEncoder.flops(vit, prefixTokens: 1, kept: k)
        let heads = K * MaskAlignAdapter.flops(kind: cfg.adapter, rows: rows, dim: D, targetDim: C)
        let mix = cfg.alignment == .dynamic ? 2 * K * Double(vit.depth) * rows * D : 0
        let teacher = MaskAlignTeacher.flops(dim: t.dim, depth: t.depth, hidden: t.hidden, tokens: vit.tokens,
                                             classToken: t.classToken, patchInput: vit.channels * vit.patchSize * vit.patchSize)
        let student = enc.forward + heads + mix
        return FlopCount(forward: student + teacher, train: 3 * student - enc.patchEmbedding + teacher)
    }

    /// mimlab's parameter name → the official `models_pretrain.py` name.
    public static func officialName(_ name: String) -> String {
        if name.hasPrefix("encoder.patch_embed.") { return "patch_embed.proj." + name.dropFirst("encoder.patch_embed.".count) }
        if name.hasPrefix("encoder.") { return String(name.dropFirst("encoder.".count)) }
        return name
    }
}
