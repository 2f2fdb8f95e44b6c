import Foundation
import Train

/// The lines a regenerated table opens with: which protocol its runs used, its budget against
/// the paper's, and what its recipe leaves out of the official one, so nobody reads our
/// numbers as more than they are.
public enum ProtocolSummary {
    // The paper's ablation setting (SimMIM Sec. 4.1, paper/simmim.yaml official_defaults):
    // ImageNet-1K's training set at 192 px, 100 epochs of pre-training, 100 of fine-tuning.
    static let paperImages = 1_281_167
    static let paperEpochs = 100
    static let paperImageSize = 192
    static let paperMaskedPatch = 32
    /// The official fine-tuning recipe's augmentation (SimMIM's Swin fine-tune configs, after
    /// Swin/DeiT): none of it is implemented here.
    static let officialAugmentationLeftOut =
        "Mixup 0.8, CutMix 1.0, RandAugment (rand-m9-mstd0.5-inc1), random erasing 0.25 and its crop scale 0.08–1"

    public static func lines(_ c: RunConfig, seeds: Int) -> [String] {
        let v = c.encoder.vit, size = c.data.imageSize
        let data = c.data.dataset == "synthetic"
            ? "synthetic images (drawing v\(c.data.syntheticVersion.map(String.init) ?? "?"), \(c.data.classes) classes)"
            : "\(c.data.dataset) images"
        let maskGrid = size / max(1, c.mask.patch), paperGrid = paperImageSize / paperMaskedPatch
        var out: [String] = []
        out.append("Protocol: \(size)×\(size) \(data), \(c.encoder.preset) (patch \(v.patchSize) px → \(v.grid)×\(v.grid) tokens, dim \(v.dim), depth \(v.depth), \(v.heads) heads); "
            + "default masked patch \(c.mask.patch) px = a \(maskGrid)×\(maskGrid) mask grid "
            + (maskGrid == paperGrid ? "(the paper's \(paperMaskedPatch) px on \(paperImageSize) px: the same \(paperGrid)×\(paperGrid))" :
                "(the paper's \(paperMaskedPatch) px on \(paperImageSize) px: \(paperGrid)×\(paperGrid))")
            + "; \(seeds) seed\(seeds == 1 ? "" : "s") per cell.")
        let views = c.data.poolSize * c.pretrain.epochs, paperViews = paperImages * paperEpochs
        out.append("Pre-training: \(count(c.data.poolSize)) unlabelled images × \(c.pretrain.epochs) epochs = \(count(views)) image views at \(size) px "
            + "(batch \(c.pretrain.batch), lr \(sci(c.pretrain.lr(referenceBatch: (try? Methods.recipe(c))?.referenceBatch ?? 512)))); the paper: \(count(paperImages)) ImageNet-1K images × \(paperEpochs) epochs = "
            + "\(count(paperViews)) views at \(paperImageSize) px, so ours is \(String(format: "%.3f", 100 * Double(views) / Double(paperViews)))% of its views.")
        out.append("Fine-tuning: \(count(c.data.finetuneSize)) labelled images × \(c.finetune.epochs) epochs (the paper: all \(count(paperImages)) × \(paperEpochs)), "
            + "AdamW, layer decay \(num(c.finetune.layerDecay)), label smoothing \(num(c.finetune.labelSmoothing)), drop path \(num(c.finetune.dropPath)), "
            + "random resized crop scale \(num(finetuneCropLow(c)))–1\(c.data.flip ? " and flips" : ""); it leaves out the official recipe's "
            + "\(officialAugmentationLeftOut). Test: \(count(c.data.testSize)) held-out images. Linear probe: the frozen encoder, \(c.linprobe.epochs) epochs on the same labels.")
        return out
    }

    /// The fine-tuning crop's lower scale, as `DataSources` sets it.
    static func finetuneCropLow(_ c: RunConfig) -> Double { 0.08 < c.data.cropScaleMin ? 0.5 : c.data.cropScaleMin }

    static func count(_ n: Int) -> String {
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
