import NN
import Tensor

/// A pre-training method (SimMIM, MAE, MaskAlign): it owns the parameters it adds to
/// the encoder (mask token, head or decoder), draws its own masks, and does one step. The
/// pre-train loop, the resumable state, the cost model and `Run` see only this.
public protocol PretrainMethod: Module {
    /// The encoder that the linear probe and fine-tuning take over.
    var backbone: any ImageEncoder { get }
    /// AdamW's (β₁, β₂) in the method's official pre-training.
    var betas: (Float, Float) { get }
    /// lr = base_lr · batch / referenceBatch (SimMIM 512, MAE 256).
    var referenceBatch: Int { get }
    /// The method's own initialisation of every parameter.
    func initialize(_ rng: inout PRNG)
    /// Draws the next step's masks for `batch` images; all randomness from `rng`, so the
    /// mask stream is part of the resumable state only through `rng`.
    func drawMasks(batch: Int, _ rng: inout PRNG)
    /// Loss of one batch under the current masks (forward, loss, backward); accumulates
    /// every parameter gradient.
    func step(_ images: Tensor, batch: Int) -> Double
    /// FLOPs per image of `step`.
    var flopsPerImage: FlopCount { get }
    /// The labels of the next step's images (called before `step`); only a supervised
    /// method reads them.
    func setLabels(_ labels: [Int32])
}

extension PretrainMethod {
    public func setLabels(_ labels: [Int32]) {}
}
