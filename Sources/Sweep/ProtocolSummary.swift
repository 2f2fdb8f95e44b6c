import Foundation
import NN
import Train

/// The lines a regenerated table opens with: which protocol its runs used, its budget against
/// the paper's, and what its recipe leaves out of the official one, so nobody reads our
/// numbers as more than they are.
public enum ProtocolSummary {
    /// The setting a method's paper ran its ablations in, for the budget comparison.
    struct PaperSetting {
        var name: String              // "SimMIM's ablations (Swin-B)"
        var images = 1_281_167        // ImageNet-1K's training set
        var epochs: Int
        var imageSize: Int
        /// The masked patch of the paper's default and whether it is one token.
        var maskedPatch: Int
        var tokenMasking: Bool
        var finetuneEpochs: Int
    }

    // SimMIM Sec. 4.1 (paper/simmim.yaml): Swin-B at 192 px, 100 + 100 epochs, 32-px masked patches.
    static let simmim = PaperSetting(name: "SimMIM's ablations (Swin-B)", epochs: 100, imageSize: 192, maskedPatch: 32,
                                     tokenMasking: false, finetuneEpochs: 100)
    // MAE Table 1 (paper/mae.yaml): ViT-L/16, 800 epochs at 224 px; ViT-L fine-tunes for 50.
    static let mae = PaperSetting(name: "MAE's Table 1 (ViT-L/16)", epochs: 800, imageSize: 224, maskedPatch: 16,
                                  tokenMasking: true, finetuneEpochs: 50)
    // MaskAlign's recipe (paper/maskalign.yaml): ViT-B/16, 200 epochs at 224 px, 100 of fine-tuning.
    static let maskalign = PaperSetting(name: "MaskAlign (ViT-B/16)", epochs: 200, imageSize: 224, maskedPatch: 16,
                                        tokenMasking: true, finetuneEpochs: 100)

    /// The paper a method's tables are read against; nil for mimlab's own supervised teacher.
    static func paper(_ method: String) -> PaperSetting? {
        ["simmim": simmim, "mae": mae, "maskalign": maskalign][method]
    }

    /// The official fine-tuning recipes' augmentation (SimMIM's Swin configs after Swin/DeiT;
    /// MAE's `main_finetune.py`, which MaskAlign's follows): none of it is implemented here.
    static let officialAugmentationLeftOut =
        "Mixup 0.8, CutMix 1.0, RandAugment (rand-m9-mstd0.5-inc1), random erasing 0.25 and its crop scale 0.08–1"

    /// `varied`: the spec's grid axes, which the header must not state one value of.
    public static func lines(_ c: RunConfig, seeds: Int, varied: Set<String> = []) -> [String] {
        let v = c.encoder.vit, size = c.data.imageSize
        let data = c.data.dataset == "synthetic"
            ? "synthetic images (drawing v\(c.data.syntheticVersion.map(String.init) ?? "?"), \(c.data.classes) classes)"
            : "\(c.data.dataset) images"
        let paper = paper(c.method)
        let maskGrid = size / max(1, c.mask.patch)
        var masks = "default masked patch \(c.mask.patch) px = a \(maskGrid)×\(maskGrid) mask grid"
        if let p = paper {
            let grid = p.imageSize / p.maskedPatch
            let unit = p.tokenMasking ? "\(p.maskedPatch)-px tokens" : "\(p.maskedPatch) px"
            masks += " (\(p.name): \(unit) on \(p.imageSize) px, \(grid == maskGrid ? "the same " : "")\(grid)×\(grid))"
        }
        var out: [String] = []
        // A Swin run keeps the default ViT fields unused: describe the encoder it ran.
        let encoder = c.encoder.swin.map { s in
            "patch \(s.patchSize) px → \(s.grid)×\(s.grid) tokens, \(s.stages) stages of depths \(s.depths.map(String.init).joined(separator: "-")), "
                + "dim \(s.embedDim) → \(s.outputDim), window \(s.window), output stride \(s.outputStride) px"
        } ?? "patch \(v.patchSize) px → \(v.grid)×\(v.grid) tokens, dim \(v.dim), depth \(v.depth), \(v.heads) heads, "
            // On this protocol the position embedding moves fine-tuning by tens of points.
            + (varied.contains("encoder.position") ? "position embedding per row"
                : PlannedRun(config: c).axisText("encoder.position") == ViTOptions.Position.sinCos.configName
                ? "fixed 2-D sin-cos position" : "learned position")
        out.append("Protocol: \(size)×\(size) \(data), \(c.encoder.preset) (\(encoder)); " + masks + "; \(seeds) seed\(seeds == 1 ? "" : "s") per cell.")
        let views = c.data.poolSize * c.pretrain.epochs
        let epochsVaried = varied.contains("pretrain.epochs")
        var pre = "Pre-training: \(count(c.data.poolSize)) unlabelled images × "
            + (epochsVaried ? "the row's epochs (pretrain.epochs) at \(size) px " : "\(c.pretrain.epochs) epochs = \(count(views)) image views at \(size) px ")
            + "(batch \(c.pretrain.batch), lr \(sci(c.pretrain.lr(referenceBatch: (try? Methods.recipe(c))?.referenceBatch ?? 512))))"
        if let p = paper {
            let paperViews = p.images * p.epochs
            pre += "; \(p.name): \(count(p.images)) ImageNet-1K images × \(p.epochs) epochs = \(count(paperViews)) views at \(p.imageSize) px"
                + (epochsVaried ? "" : ", so ours is \(String(format: "%.3f", 100 * Double(views) / Double(paperViews)))% of its views")
        }
        out.append(pre + ".")
        let paperFinetune = paper.map { " (\($0.name): all \(count($0.images)) × \($0.finetuneEpochs))" } ?? ""
        out.append("Fine-tuning: \(count(c.data.finetuneSize)) labelled images × \(c.finetune.epochs) epochs\(paperFinetune), "
            + "AdamW, layer decay \(varied.contains("finetune.layer_decay") ? "per row" : num(c.finetune.layerDecay)), label smoothing \(num(c.finetune.labelSmoothing)), drop path \(num(c.finetune.dropPath)), "
            + "random resized crop scale \(num(finetuneCropLow(c)))–1\(c.data.flip ? " and flips" : ""); it leaves out the official recipe's "
            + "\(officialAugmentationLeftOut). Test: \(count(c.data.testSize)) held-out images. Linear probe: the frozen encoder, \(c.linprobe.epochs) epochs on the same labels.")
        return out
    }

    /// The fine-tuning crop's lower scale, as `DataSources` sets it.
    static func finetuneCropLow(_ c: RunConfig) -> Double { 0.08 < c.data.cropScaleMin ? 0.5 : c.data.cropScaleMin }

    static func count(_ n: Int) -> String {
        if n >= 1_000_000_000 { return String(format: "%.2f B", Double(n) / 1e9) }
        if n >= 1_000_000 { return String(format: "%.2f M", Double(n) / 1e6).replacingOccurrences(of: ".00 M", with: " M") }
        let s = String(n)
        guard n >= 1_000 else { return s }
        var out = ""
        for (i, ch) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(ch) }
        return String(out.reversed())
    }

    static func num(_ v: Double) -> String { SweepSpec.canonicalText("\(v)") }
    static func sci(_ v: Double) -> String { String(format: "%.3g", v) }
}
