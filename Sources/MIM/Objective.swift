import Tensor

/// Predictions and targets in, a loss and its gradient out. `pred` holds one row per
/// token (`[B·L, outputs]`), `patches` the image's patch rows (`ImageEncoder.patches`,
/// `[B·L, C·p²]`), `weights` one weight per token (the mask for losses on masked tokens).
/// Pixel regressions, classification targets (`ReconstructionLoss`) and MAE's per-patch
/// MSE (`MAELoss`) are objectives; teacher features and tokenizer ids will be.
public protocol Objective: AnyObject {
    /// Writes d loss / d pred into `grad` (same shape as `pred`).
    func forward(pred: Tensor, patches: Tensor, weights: [Float], grad: Tensor) -> Double
}
