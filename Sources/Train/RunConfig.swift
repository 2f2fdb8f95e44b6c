import Data
import Foundation
import MIM
import NN

/// Everything one run depends on (DESIGN.md, "The run config"). Defaults are the tiny
/// protocol: 32×32 synthetic images, vit-micro, random masking with 8-px mask patches at
/// ratio 0.6, linear head, L1 on masked pixels.
public struct RunConfig: Codable, Equatable, Sendable {
    public struct DataConfig: Codable, Equatable, Sendable {
        public var dataset = "synthetic"        // synthetic | cifar10 | cifar100 | folder
        public var path: String? = nil          // CIFAR binary directory, or the image folder
        public var imageSize = 32
        public var classes = 10                 // synthetic only
        public var poolSize = 10_000            // unlabelled pre-train pool
        public var finetuneSize = 2_000         // the label budget
        public var testSize = 2_000
        public var cropScaleMin = 0.67          // official pre-train RandomResizedCrop
        public var flip = true
        /// The synthetic generator's drawing version. Part of the config (so of the run id)
        /// because a new drawing is new data: runs on older drawings must not count as done.
        /// nil for CIFAR.
        public var syntheticVersion: Int? = SyntheticSpec.generatorVersion
        /// Image folders only (nil otherwise, so other runs' ids are unchanged): the folder's
        /// content hash (stands for the data in the run id; the path does not), its resize
        /// policy, normalisation (`dataset` statistics or `imagenet` constants) and, for one
        /// class tree, the validation fraction.
        public var folderHash: String? = nil
        public var resize: String? = nil
        public var normalize: String? = nil
        public var valFraction: Double? = nil
    }

    public struct EncoderConfig: Codable, Equatable, Sendable {
        public var preset = "vit-micro"
        public var vit = ViTConfig.micro
        /// The Swin encoder for a `swin-*` preset; nil (and so absent from the canonical JSON,
        /// which keeps every ViT run id) for a ViT.
        public var swin: SwinConfig? = nil
        /// SimMIM's ViT position embedding when not the learned default: "sincos" (the fixed
        /// 2-D table MAE uses). nil, and so absent from the canonical JSON, for the learned
        /// one: every run id made before the key existed is unchanged.
        public var position: String? = nil
    }

    public struct MaskConfig: Codable, Equatable, Sendable {
        public var type = "random"
        public var patch = 8
        public var ratio = 0.6
    }

    public struct HeadConfig: Codable, Equatable, Sendable {
        public var type = "linear"              // linear | mlp2 | transformer
        public var depth = 2                    // transformer decoder only
        public var width = 128
        public var heads = 4
    }

    public struct TargetConfig: Codable, Equatable, Sendable {
        public var type = "l1"
        public var predResolution: Int? = nil   // nil: the image size
        public var lossOn = "masked"            // masked | all
    }

    public struct PhaseConfig: Codable, Equatable, Sendable {
        public var epochs: Int
        public var batch: Int
        public var baseLR: Double               // scaled by batch / 512, as the official code
        public var warmupEpochs: Double
        public var minLR: Double
        public var weightDecay: Double
        public var clipGrad: Double             // 0 = off
        public var layerDecay: Double           // 1 = off
        public var labelSmoothing: Double
        public var dropPath: Double

        /// SimMIM's linear scaling rule (MAE pre-training refers to 256: `lr(referenceBatch:)`).
        public var lr: Double { lr(referenceBatch: 512) }

        public func lr(referenceBatch: Int) -> Double { baseLR * Double(batch) / Double(referenceBatch) }

        /// Per-step warm-up + cosine for a phase of `epochs × stepsPerEpoch` steps.
        public func schedule(stepsPerEpoch: Int, referenceBatch: Int = 512) -> WarmupCosine {
            WarmupCosine(base: lr(referenceBatch: referenceBatch), minimum: minLR,
                         warmupSteps: Int((warmupEpochs * Double(stepsPerEpoch)).rounded()),
                         totalSteps: epochs * stepsPerEpoch)
        }
    }

    public var data = DataConfig()
    public var encoder = EncoderConfig()
    public var mask = MaskConfig()
    public var head = HeadConfig()
    public var target = TargetConfig()
    public var method = "simmim"
    /// MAE's section; nil for every other method, so it is absent from their canonical JSON
    /// and their run ids did not change when MAE came.
    public var mae: MAEConfig? = nil
    /// MaskAlign's section; nil for every other method (absent from their JSON, ids kept).
    public var maskalign: MaskAlignConfig? = nil
    public var pretrain = PhaseConfig(epochs: 4, batch: 64, baseLR: 8e-3, warmupEpochs: 0.5, minLR: 1e-5,
                                      weightDecay: 0.05, clipGrad: 5, layerDecay: 1, labelSmoothing: 0, dropPath: 0)
    public var finetune = PhaseConfig(epochs: 10, batch: 64, baseLR: 8e-3, warmupEpochs: 1, minLR: 1e-6,
                                      weightDecay: 0.05, clipGrad: 5, layerDecay: 0.75, labelSmoothing: 0.1, dropPath: 0.1)
    public var linprobe = PhaseConfig(epochs: 30, batch: 256, baseLR: 0.02, warmupEpochs: 1, minLR: 0,
                                      weightDecay: 0, clipGrad: 0, layerDecay: 1, labelSmoothing: 0, dropPath: 0)
    public var seed = 0
    /// The source of a run that starts from an earlier run's pre-trained model instead of
    /// pre-training (`PretrainedCheckpoint`): `run:<id>` or `sha256:<hex>`. nil, and so
    /// absent from the canonical JSON (every other run id unchanged), for a run that pre-trains.
    public var pretrained: String? = nil
    /// Where that checkpoint is; not part of the run id.
    public var pretrainedPath: String? = nil

    public init() {}

    /// Upper bounds on what a user can type, checked before any work starts: beyond them a
    /// run would not fit memory or would take years, and would only look like a hang.
    public enum Bounds {
        public static let imageSize = 1024
        public static let images = 1_000_000
        public static let width = 4096
        public static let depth = 64
        public static let heads = 64
        public static let epochs = 10_000
        public static let batch = 65_536
        public static let colorClusters = 4096
    }

    public static let datasets = ["synthetic", "cifar10", "cifar100", "folder"]
    public static let normalizations = ["dataset", "imagenet"]
    public static var methods: [String] { Methods.names }
    public static let heads = HeadKind.allCases.map(\.rawValue)
    public static let lossOn = LossRegion.allCases.map(\.rawValue)

    /// The keys each section accepts, for "unknown key" messages.
    public static var validKeys: [String: [String]] {
        var keys = baseKeys
        for r in Methods.registry.values { if let s = r.section { keys[""]!.append(s.name); keys[s.name] = s.keys } }
        return keys
    }
    static let baseKeys: [String: [String]] = [
        "": ["data", "encoder", "mask", "head", "target", "method", "pretrain", "finetune", "linprobe", "seed", "pretrained"],
        "data": ["dataset", "path", "image_size", "classes", "pool_size", "finetune_size", "test_size", "crop_scale_min", "flip", "synthetic_version",
                 "resize", "normalize", "val_fraction"],
        "encoder": ["preset", "patch", "dim", "depth", "heads", "mlp_ratio", "ln_eps", "window", "position"],
        "mask": ["type", "patch", "ratio"],
        "head": ["type", "depth", "width", "heads"],
        "target": ["type", "pred_resolution", "loss_on"],
        "pretrain": phaseKeys, "finetune": phaseKeys, "linprobe": phaseKeys,
    ]
    static let phaseKeys = ["epochs", "batch", "base_lr", "warmup_epochs", "min_lr", "weight_decay", "clip_grad",
                            "layer_decay", "label_smoothing", "drop_path"]

    /// Reads a YAML run config, applies `key.path=value` overrides, fills defaults and
    /// validates; every error names file:line, the field and the valid values.
    public static func load(path: String, overrides: [String] = []) throws -> RunConfig {
        let tree = try ConfigTree(file: path)
        for o in overrides { try tree.set(o) }
        return try RunConfig(tree: tree)
    }

    public static func parse(yaml: String, source: String = "<config>", overrides: [String] = []) throws -> RunConfig {
        let tree = try ConfigTree(yaml: yaml, source: source)
        for o in overrides { try tree.set(o) }
        return try RunConfig(tree: tree)
    }

    public init(tree: ConfigTree) throws {
        let r = ConfigReader(tree)
        data.dataset = try r.string("data.dataset", data.dataset, oneOf: RunConfig.datasets)
        data.path = tree.has("data.path") ? try r.string("data.path", "") : nil
        tree.markRead("data.path")
        data.imageSize = try r.int("data.image_size", data.imageSize, min: 1, max: RunConfig.Bounds.imageSize, why: "px; larger images do not fit memory")
        data.classes = try r.int("data.classes", data.classes, min: 2, max: 255)
        data.poolSize = try r.int("data.pool_size", data.poolSize, min: 1, max: RunConfig.Bounds.images, why: "images; the dataset is held in memory")
        data.finetuneSize = try r.int("data.finetune_size", data.finetuneSize, min: 1, max: RunConfig.Bounds.images, why: "images; the dataset is held in memory")
        data.testSize = try r.int("data.test_size", data.testSize, min: 1, max: RunConfig.Bounds.images, why: "images; the dataset is held in memory")
        data.cropScaleMin = try r.double("data.crop_scale_min", data.cropScaleMin, range: 0.05...1)
        data.flip = try r.bool("data.flip", data.flip)
        if data.dataset != "folder", let key = ["resize", "normalize", "val_fraction"].first(where: { tree.has("data.\($0)") }) {
            throw ConfigError("\(r.origin("data.\(key)")): data.\(key) applies to data.dataset = folder only, not \(data.dataset)")
        }
        if data.dataset == "synthetic" {
            guard (SyntheticSpec.minClasses...SyntheticSpec.maxClasses).contains(data.classes) else {
                throw ConfigError("\(r.origin("data.classes")): data.classes = \(data.classes): the synthetic dataset has \(SyntheticSpec.minClasses) to \(SyntheticSpec.maxClasses) classes")
            }
            let v = try r.int("data.synthetic_version", SyntheticSpec.generatorVersion)
            guard v == SyntheticSpec.generatorVersion else {
                throw ConfigError("\(r.origin("data.synthetic_version")): data.synthetic_version = \(v): this build draws synthetic data version \(SyntheticSpec.generatorVersion) only (older drawings are not kept); set \(SyntheticSpec.generatorVersion) or leave the key out")
            }
        } else if data.dataset == "folder" {
            try readFolder(r)
        } else {
            if tree.has("data.synthetic_version") {
                throw ConfigError("\(r.origin("data.synthetic_version")): data.synthetic_version applies to data.dataset = synthetic only, not \(data.dataset)")
            }
            guard data.path != nil else {
                throw ConfigError("\(r.origin("data.dataset")): data.dataset = \(data.dataset) needs data.path (the directory of the CIFAR binary files)")
            }
            data.syntheticVersion = nil
        }

        let presets = ViTConfig.presets.keys.sorted() + SwinConfig.presets.keys.sorted()
        encoder.preset = try r.string("encoder.preset", encoder.preset, oneOf: presets)
        if let preset = SwinConfig.presets[encoder.preset] { try readSwin(r, tree, preset) }
        var vit = ViTConfig.presets[encoder.preset] ?? .micro
        vit.imageSize = data.imageSize
        if encoder.swin == nil, tree.has("encoder.window") {
            throw ConfigError("\(r.origin("encoder.window")): encoder.window applies to the Swin presets (\(SwinConfig.presets.keys.sorted().joined(separator: ", "))), not \(encoder.preset)")
        }
        // A Swin run keeps the default ViT fields (unused); its own are in `encoder.swin`.
        if encoder.swin == nil {
            vit.patchSize = try r.int("encoder.patch", vit.patchSize, min: 1, max: RunConfig.Bounds.imageSize)
            vit.dim = try r.int("encoder.dim", vit.dim, min: 1, max: RunConfig.Bounds.width, why: "(ViT-H is 1280)")
            vit.depth = try r.int("encoder.depth", vit.depth, min: 1, max: RunConfig.Bounds.depth, why: "blocks (ViT-H has 32)")
            vit.heads = try r.int("encoder.heads", vit.heads, min: 1, max: RunConfig.Bounds.heads)
            vit.mlpRatio = try r.double("encoder.mlp_ratio", vit.mlpRatio, open: (0, 64), rule: "must be positive")
            vit.lnEps = Float(try r.double("encoder.ln_eps", Double(vit.lnEps), open: (0, 1), rule: "must be in (0, 1)"))
            do { try vit.validate() } catch { throw ConfigError("\(r.origin("encoder")): \(error)") }
        }
        encoder.vit = vit

        mask.type = try r.string("mask.type", mask.type, oneOf: MaskType.allCases.map(\.rawValue))
        mask.patch = try r.int("mask.patch", mask.patch, min: 1, max: RunConfig.Bounds.imageSize)
        // MaskAlign's mask-ratio ablation has a 0% row (the student sees every patch: feature
        // distillation through the alignment); every other method needs masked tokens.
        let allVisible = try tree.scalar("mask.ratio").flatMap { Double($0.0) } == 0
            && (try tree.scalar("method"))?.0 == "maskalign"
        mask.ratio = allVisible ? 0 : try r.double("mask.ratio", mask.ratio, open: (0, 1), rule: "must be in (0, 1)")
        do { if !allVisible { try maskSpec.validate() } } catch let e as MaskSpecError {
            let where_ = e.field.rawValue.hasPrefix("mask") ? r.origin(e.field.rawValue) : r.origin("mask")
            throw ConfigError("\(where_): \(e)")
        }

        // A mask with nothing visible has nothing to predict from (and no AvgDist): on a
        // small image a large mask patch leaves few patches, and ceil(ratio x N) can be all.
        if maskSpec.type != .square && maskSpec.maskCount >= maskSpec.maskPatchCount {
            let ratios = (1...max(1, maskSpec.maskPatchCount - 1)).map { Double($0) / Double(maskSpec.maskPatchCount) }
            throw ConfigError("\(r.origin("mask.ratio")): mask.ratio = \(mask.ratio) masks all \(maskSpec.maskPatchCount) mask patches of \(mask.patch) px on a \(data.imageSize)-px image, leaving nothing visible; use mask.ratio <= \(String(format: "%.3g", ratios.last!)) or a smaller mask.patch")
        }

        head.type = try r.string("head.type", head.type, oneOf: RunConfig.heads)
        head.depth = try r.int("head.depth", head.depth, min: 1, max: RunConfig.Bounds.depth)
        head.width = try r.int("head.width", head.width, min: 1, max: RunConfig.Bounds.width)
        head.heads = try r.int("head.heads", head.heads, min: 1, max: RunConfig.Bounds.heads)
        if head.type == "transformer" && head.width % head.heads != 0 {
            throw ConfigError("\(r.origin("head.heads")): head.width = \(head.width) must be a multiple of head.heads = \(head.heads)")
        }

        target.type = try r.string("target.type", target.type)
        do { try PredictionTarget(parsing: target.type).validate() } catch {
            throw ConfigError("\(r.origin("target.type")): target.type = \(target.type): valid values are \(PredictionTarget.validValues)")
        }
        if case .colorCluster(let k)? = try? PredictionTarget(parsing: target.type), k > RunConfig.Bounds.colorClusters {
            throw ConfigError("\(r.origin("target.type")): target.type = \(target.type): K must be at most \(RunConfig.Bounds.colorClusters) (the palette is fitted by k-means on every pre-training image)")
        }
        target.predResolution = try r.optionalInt("target.pred_resolution", min: 1)
        let headGeometry = encoder.swin.map(SimMIMSwin.outputGeometry) ?? vit
        if let pr = target.predResolution {
            let vit = headGeometry
            let valid = SimMIMConfig.validPredResolutions(for: vit)
            if !valid.contains(pr) {
                throw ConfigError("\(r.origin("target.pred_resolution")): target.pred_resolution = \(pr): must be the token grid \(vit.grid) times a divisor of encoder.patch = \(vit.patchSize); valid: \(valid.map(String.init).joined(separator: ", "))")
            }
        }
        // Full resolution written out is the same run as the default: one spelling, one run id.
        if target.predResolution == data.imageSize { target.predResolution = nil }
        target.lossOn = try r.string("target.loss_on", target.lossOn, oneOf: RunConfig.lossOn)
        method = try r.string("method", method, oneOf: RunConfig.methods)
        if tree.has("encoder.position") {
            // Only SimMIM's ViT has a choice: MAE's and MaskAlign's take the fixed table as
            // models_mae.py does, and Swin's windows carry a relative position bias.
            guard encoder.swin == nil, method == "simmim" else {
                throw ConfigError("\(r.origin("encoder.position")): encoder.position applies to method simmim on a ViT preset, not method \(method) with \(encoder.preset) (\(encoder.swin == nil ? "its ViT has the fixed sin-cos position" : "Swin has a relative position bias in its windows"))")
            }
            let p = try r.string("encoder.position", ViTOptions.Position.learned.configName,
                                 oneOf: ViTOptions.Position.allCases.map(\.configName))
            if p == ViTOptions.Position.sinCos.configName, encoder.vit.dim % 4 != 0 {
                throw ConfigError("\(r.origin("encoder.position")): encoder.position = \(p) needs encoder.dim a multiple of 4 (the 2-D sin-cos table), not \(encoder.vit.dim)")
            }
            // The default written out is the same run as the default left out: one id.
            encoder.position = p == ViTOptions.Position.learned.configName ? nil : p
        }
        if let swin = encoder.swin {
            if method != "simmim" {
                throw ConfigError("\(r.origin("method")): method = \(method) drops tokens, which Swin's windows cannot; with encoder.preset = \(encoder.preset) valid: simmim")
            }
            if mask.patch % swin.outputStride != 0 {
                throw ConfigError("\(r.origin("mask.patch")): mask.patch = \(mask.patch) must be a multiple of the Swin output stride \(swin.outputStride) (encoder.patch \(swin.patchSize) · 2^\(swin.stages - 1)); valid: \((1...4).map { String($0 * swin.outputStride) }.joined(separator: ", "))")
            }
        }
        for (name, recipe) in Methods.registry where name != method {
            if let s = recipe.section, tree.has(s.name) {
                throw ConfigError("\(r.origin(s.name)): the \(s.name) section applies to method: \(name) only, not \(method)")
            }
        }
        try Methods.registry[method]!.read(r, into: &self)

        pretrain = try RunConfig.phase(r, "pretrain", pretrain)
        finetune = try RunConfig.phase(r, "finetune", finetune)
        linprobe = try RunConfig.phase(r, "linprobe", linprobe)
        // A batch larger than its set gives no step at all: an epoch would silently do nothing.
        if pretrain.epochs > 0 && pretrain.batch > data.poolSize {
            throw ConfigError("\(r.origin("pretrain.batch")): pretrain.batch = \(pretrain.batch) is larger than data.pool_size = \(data.poolSize); an epoch would have no step")
        }
        if finetune.epochs > 0 && finetune.batch > data.finetuneSize {
            throw ConfigError("\(r.origin("finetune.batch")): finetune.batch = \(finetune.batch) is larger than data.finetune_size = \(data.finetuneSize); an epoch would have no step")
        }
        try RunConfig.refuseUnused(r, "pretrain", pretrain, ["drop_path", "layer_decay", "label_smoothing"],
                                   why: "pre-training has no drop-path, layer-wise lr decay or labels")
        try RunConfig.refuseUnused(r, "linprobe", linprobe, ["clip_grad", "layer_decay", "label_smoothing", "drop_path"],
                                   why: "the linear probe trains one Linear layer on frozen features, without clipping or label smoothing")
        seed = try r.int("seed", seed, min: 0)
        if tree.has(PretrainedCheckpoint.field) { try PretrainedCheckpoint.read(r, into: &self) }
        try tree.checkAllRead(validKeys: RunConfig.validKeys)
        do { _ = try simmimConfig() } catch { throw ConfigError("\(r.origin("head")): \(error)") }
    }

    /// `data.dataset: folder`: lists the folder (so its content hash is in the config).
    mutating func readFolder(_ r: ConfigReader) throws {
        let tree = r.tree
        if tree.has("data.classes") {
            throw ConfigError("\(r.origin("data.classes")): data.classes does not apply to data.dataset = folder (its classes are its sub-folders)")
        }
        // The paper specs' base (tiny-default.yaml) spells out the synthetic drawing; a spec
        // that points it at a folder need not unset it. It has no effect here.
        tree.markRead("data.synthetic_version")
        guard let path = data.path, !path.isEmpty else {
            throw ConfigError("\(r.origin("data.dataset")): data.dataset = folder needs data.path (ROOT/<class>/<image>, or ROOT/train/ and ROOT/val/)")
        }
        // Absolute, so a Slurm task started elsewhere finds it; not in the run id either way.
        data.path = URL(fileURLWithPath: path).standardizedFileURL.path
        data.resize = try r.string("data.resize", ResizePolicy.shorter.rawValue, oneOf: ResizePolicy.allCases.map(\.rawValue))
        data.normalize = try r.string("data.normalize", "dataset", oneOf: RunConfig.normalizations)
        let fraction = tree.has("data.val_fraction")
            ? try r.double("data.val_fraction", 0, open: (0, 1), rule: "must be in (0, 1)") : nil
        tree.markRead("data.val_fraction")
        let folder: ImageFolder
        do { folder = try ImageFolder.scan(data.path!, valFraction: fraction) } catch {
            throw ConfigError("\(r.origin("data.path")): \(error)")
        }
        if case .split(let f) = folder.layout { data.valFraction = f }
        data.folderHash = folder.contentHash
        data.classes = folder.classes.count
        data.syntheticVersion = nil
    }

    /// A `swin-*` preset with the keys that apply to it (`patch`, `dim` = stage 0's width,
    /// `window`, `mlp_ratio`); the ViT's list-free `depth` / `heads` / `ln_eps` are refused.
    mutating func readSwin(_ r: ConfigReader, _ tree: ConfigTree, _ preset: SwinConfig) throws {
        for k in ["depth", "heads", "ln_eps"] where tree.has("encoder.\(k)") {
            throw ConfigError("\(r.origin("encoder.\(k)")): encoder.\(k) applies to the ViT presets, not \(encoder.preset) (its stages are fixed by the preset); valid keys: preset, patch, dim, window, mlp_ratio")
        }
        var s = preset
        s.imageSize = data.imageSize
        s.patchSize = try r.int("encoder.patch", s.patchSize, min: 1, max: RunConfig.Bounds.imageSize)
        s.embedDim = try r.int("encoder.dim", s.embedDim, min: 1, max: RunConfig.Bounds.width)
        s.window = try r.int("encoder.window", s.window, min: 1, max: RunConfig.Bounds.imageSize)
        s.mlpRatio = try r.double("encoder.mlp_ratio", s.mlpRatio, open: (0, 64), rule: "must be positive")
        do { try s.validate() } catch { throw ConfigError("\(r.origin("encoder")): \(error)") }
        encoder.swin = s
    }

    static func phase(_ r: ConfigReader, _ name: String, _ d: PhaseConfig) throws -> PhaseConfig {
        var p = d
        p.epochs = try r.int("\(name).epochs", d.epochs, min: 0, max: RunConfig.Bounds.epochs, why: "(the papers pre-train for 800 at most)")
        p.batch = try r.int("\(name).batch", d.batch, min: 1, max: RunConfig.Bounds.batch)
        p.baseLR = try r.double("\(name).base_lr", d.baseLR, open: (0, 1e12), rule: "must be positive")
        p.warmupEpochs = try r.double("\(name).warmup_epochs", d.warmupEpochs, range: 0...1e6)
        p.minLR = try r.double("\(name).min_lr", d.minLR, range: 0...1e3)
        p.weightDecay = try r.double("\(name).weight_decay", d.weightDecay, range: 0...10)
        p.clipGrad = try r.double("\(name).clip_grad", d.clipGrad, range: 0...1e6)
        p.layerDecay = try r.double("\(name).layer_decay", d.layerDecay, range: 0.01...1)
        p.labelSmoothing = try r.double("\(name).label_smoothing", d.labelSmoothing, range: 0...0.99)
        p.dropPath = try r.double("\(name).drop_path", d.dropPath, range: 0...0.99)
        return p
    }

    /// Settings a phase accepts (they are phase keys) but never reads: only the value that
    /// means "off" is allowed, so a config cannot claim something that does not happen. The
    /// off values are the defaults every committed run has, so no run id changes.
    static func refuseUnused(_ r: ConfigReader, _ name: String, _ p: PhaseConfig, _ keys: [String], why: String) throws {
        let off: [String: Double] = ["drop_path": 0, "layer_decay": 1, "label_smoothing": 0, "clip_grad": 0]
        let value: [String: Double] = ["drop_path": p.dropPath, "layer_decay": p.layerDecay,
                                       "label_smoothing": p.labelSmoothing, "clip_grad": p.clipGrad]
        for k in keys where value[k]! != off[k]! {
            throw ConfigError("\(r.origin("\(name).\(k)")): \(name).\(k) = \(value[k]!) does nothing (\(why)); valid: \(String(format: "%g", off[k]!)) or leave the key out")
        }
    }

    /// The head, target and loss settings in the model's terms.
    public func simmimConfig() throws -> SimMIMConfig {
        do {
            let c = try SimMIMConfig(head: head.type, headDepth: head.depth, headWidth: head.width, headHeads: head.heads,
                                     target: target.type, predResolution: target.predResolution, lossOn: target.lossOn)
            try c.validate(for: encoder.swin.map(SimMIMSwin.outputGeometry) ?? encoder.vit)
            return c
        } catch let e as ConfigError { throw e } catch { throw ConfigError("\(error)") }
    }

    public var maskSpec: MaskSpec {
        MaskSpec(type: MaskType(rawValue: mask.type) ?? .random, imageSize: data.imageSize,
                 modelPatchSize: encoder.swin?.patchSize ?? encoder.vit.patchSize, maskedPatchSize: mask.patch, maskRatio: mask.ratio)
    }

    /// A config back from its canonical JSON (as the results database stores it), as it
    /// was written: no defaults filled in, nothing validated.
    public static func decode(canonicalJSON json: String) throws -> RunConfig {
        let dec = JSONDecoder()
        // The inverse of convertToSnakeCase, which writes `baseLR` as `base_lr` and `minLR` as `min_lr`.
        dec.keyDecodingStrategy = .custom { path in
            let key = path.last!.stringValue
            let parts = key.split(separator: "_")
            var name = String(parts.first ?? "") + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            if name.hasSuffix("Lr") { name = name.dropLast(2) + "LR" }
            return AnyKey(name)
        }
        return try dec.decode(RunConfig.self, from: Data(json.utf8))
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Canonical JSON: every field filled, keys sorted, so equal configs give equal bytes.
    /// An image folder is named by its content hash, not its path.
    public func canonicalJSON() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.keyEncodingStrategy = .convertToSnakeCase
        var c = self
        if c.data.dataset == "folder" { c.data.path = nil }
        c.pretrainedPath = nil
        c.maskalign = c.maskalign?.canonical
        return String(decoding: try! enc.encode(c), as: UTF8.self)
    }
}
