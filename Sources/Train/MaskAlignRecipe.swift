import Foundation
import MIM
import NN
import Tensor

/// MaskAlign from a run config: the `maskalign:` section (`MaskAlignConfig`) and
/// `mask.ratio`. The teacher is a `CheckpointReference` (a run id under
/// `maskalign.teacher_runs`, or a path); its identity and shape go into the config, so the
/// student's run id changes with the teacher. MaskAlign aligns features on single visible
/// tokens with its own masking, so the SimMIM settings must stay at their defaults.
public enum MaskAlignRecipe: MethodRecipe {
    public static let section: (name: String, keys: [String])? = (
        "maskalign", ["teacher", "teacher_runs", "teacher_dim", "levels", "alignment", "adapter", "masking"])

    public static func read(_ r: ConfigReader, into c: inout RunConfig) throws {
        var m = MaskAlignConfig()
        let raw = try r.string("maskalign.teacher", "")
        let runs = try r.string("maskalign.teacher_runs", "runs")
        if raw.isEmpty {
            throw ConfigError("\(r.origin("maskalign")): maskalign.teacher is required: a run id (16 hex digits, under maskalign.teacher_runs) or the path of a ViT checkpoint (.safetensors)")
        }
        let ref = CheckpointReference(raw, runs: runs, field: "maskalign.teacher")
        let path = ref.path
        m.teacherPath = path
        m.teacherDim = try r.tree.has("maskalign.teacher_dim") ? r.int("maskalign.teacher_dim", 0, min: 1, max: RunConfig.Bounds.width) : nil
        r.tree.markRead("maskalign.teacher_dim")
        m.levels = try r.int("maskalign.levels", m.levels, min: 1, max: RunConfig.Bounds.depth)
        m.alignment = AlignmentStrategy(rawValue: try r.string("maskalign.alignment", m.alignment.rawValue,
                                                              oneOf: AlignmentStrategy.allCases.map(\.rawValue)))!
        m.adapter = AdapterKind(rawValue: try r.string("maskalign.adapter", m.adapter.rawValue, oneOf: AdapterKind.allCases.map(\.rawValue)))!
        m.masking = MaskAlignMasking(rawValue: try r.string("maskalign.masking", m.masking.rawValue,
                                                           oneOf: MaskAlignMasking.allCases.map(\.rawValue)))!
        // By run id a teacher not made yet is found (or missed, with its name) when the run
        // starts; by path the identity is the file's hash.
        if ref.runID == nil || ref.exists {
            let teacher: TeacherCheckpoint
            do {
                teacher = try TeacherCheckpoint(path: path, imageSize: c.data.imageSize)
                try ref.checkRunConfig(teacher.runConfig)
            } catch let e as ConfigError {
                throw ConfigError("\(r.origin("maskalign.teacher")): \(e)")
            }
            m.teacherShape = teacher.shape
            if teacher.encoder.tokenCount != c.encoder.vit.tokens {
                throw ConfigError("\(r.origin("maskalign.teacher")): \(path): patch_embed.proj.weight: the teacher cuts \(c.data.imageSize)-px images into \(teacher.encoder.tokenCount) patches, the student (encoder.patch = \(c.encoder.vit.patchSize)) into \(c.encoder.vit.tokens); they must share the grid")
            }
        }
        do { m.teacher = try ref.identity() } catch let e as ConfigError {
            throw ConfigError("\(r.origin("maskalign.teacher")): \(e)")
        }
        do { try m.validate(student: c.encoder.vit, maskRatio: c.mask.ratio) } catch let e as ConfigFieldError {
            let file = e.field.hasPrefix("maskalign.teacher") || e.field == "maskalign.levels" && m.teacherShape != nil ? "\(path): " : ""
            throw ConfigError("\(r.origin(e.field)): \(file)\(e)")
        }
        if c.mask.type != "random" {
            throw ConfigError("\(r.origin("mask.type")): mask.type = \(c.mask.type): method maskalign draws its own masks (maskalign.masking: attentive or random); valid: random")
        }
        try refuseSimMIMSettings(r, c, method: "maskalign",
                                 instead: "MaskAlign's targets are the teacher's features, set in the maskalign section")
        c.maskalign = m
    }

    /// The teacher is loaded here, so a file that is missing, changed or vanished since the
    /// config was read fails with its name and field.
    public static func make(_ config: RunConfig, data: RunData?) throws -> any PretrainMethod {
        guard let m = config.maskalign, let path = m.teacherPath else {
            throw ConfigError("maskalign.teacher: the run config does not say where the teacher checkpoint is")
        }
        let teacher = try TeacherCheckpoint(path: path, imageSize: config.data.imageSize)
        do {
            return try MaskAlign(config.encoder.vit, m, teacher: MaskAlignTeacher(teacher.encoder), maskRatio: config.mask.ratio)
        } catch let e as ConfigFieldError { throw ConfigError("\(path): \(e)") }
    }

    public static func flopsPerImage(_ config: RunConfig) -> FlopCount {
        MaskAlign.flopsPerImage(config.encoder.vit, config.maskalign ?? MaskAlignConfig(), maskRatio: config.mask.ratio)
    }

    /// The official fine-tuning pools the patch tokens (`global_pool`), as MAE's.
    public static func pool(_ config: RunConfig) -> TokenPool { .mean }

    public static var encoderOptions: ViTOptions { .mae }

    /// The official `main_pretrain.py`: lr = blr · batch / 256.
    public static var referenceBatch: Int { 256 }
}
