import Tensor

/// Predictions and targets in, a loss and its gradient out. `pred` holds one row per
/// token (`[B·L, outputs]`), `patches` the image's patch rows (`ImageEncoder.patches`,
/// `[B·L, C·p²]`), `weights` one weight per token (the mask for losses on masked tokens).
/// Pixel regressions, classification targets (`ReconstructionLoss`), MAE's per-patch
/// MSE (`MAELoss`) and MaskAlign's feature alignment (`FeatureAlignmentLoss`, whose `patches` are
/// the teacher's features) are objectives; tokenizer ids will be.
public protocol Objective: AnyObject {
    /// Writes d loss / d pred into `grad` (same shape as `pred`).
    func forward(pred: Tensor, patches: Tensor, weights: [Float], grad: Tensor) -> Double
}
