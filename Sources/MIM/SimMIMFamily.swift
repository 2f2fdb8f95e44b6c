import NN
import Tensor

/// What SimMIM shares over its backbones (the official `SimMIM` wraps a ViT or a Swin the
/// same way): the mask token mixed in after the patch embedding (`maskMix`, named
/// `encoder.mask_token`), the encoder on every token, a prediction head, and the masks of a
/// `MaskGenerator` on the first token grid. `SimMIM` (ViT) and `SimMIMSwin` differ only in
/// where the head reads and what the loss compares (`forward`, `backward`).
public protocol SimMIMFamily: PretrainMethod {
    var maskMix: MaskTokenMix { get }
    var head: PredictionHead { get }
    /// Draws the masks of `drawMasks` (nil: masks are passed to `forward`).
    var maskGenerator: MaskGenerator? { get set }
    /// The current masks on the first token grid, `B·tokens` (1 = masked).
    var mask: [Float] { get set }
    /// Tokens per image on the grid the mask is drawn on.
    var maskTokens: Int { get }
    /// Loss of one batch under `mask`.
    func forward(_ images: Tensor, mask: [Float], batch: Int) -> Double
    /// Accumulates every parameter gradient of the last `forward`.
    func backward()
    /// The prediction of the last `forward` as images (the official `x_rec`).
    func reconstruction() -> Tensor
}

extension SimMIMFamily {
    /// The encoder's parameters with the mask token right after the patch embedding (the
    /// order every SimMIM number was made in), then the head's.
    public var parameters: [Parameter] { backbone.parameters(inserting: maskMix.parameters) + head.parameters }
    public var betas: (Float, Float) { (0.9, 0.999) }
    public var referenceBatch: Int { 512 }
    public var maskToken: Parameter { maskMix.token }
    /// The prediction per output token, valid after `forward`.
    public var prediction: Tensor { head.output }

    /// The official initialisation of the encoder (the mask token drawn after the patch
    /// embedding, as when the encoder owned it), then the head's.
    public func initialize(_ rng: inout PRNG) {
        backbone.initialize(&rng, with: maskMix.parameters)
        head.initialize(&rng)
    }

    public func drawMasks(batch: Int, _ rng: inout PRNG) {
        guard var generator = maskGenerator else { preconditionFailure("\(Self.self).drawMasks: built without a MaskSpec") }
        let n = batch * maskTokens
        if mask.count != n { mask = [Float](repeating: 0, count: n) }
        mask.withUnsafeMutableBufferPointer { generator.fill($0.baseAddress!, batch: batch, &rng) }
        maskGenerator = generator
    }

    public func step(_ images: Tensor, batch: Int) -> Double { forwardBackward(images, mask: mask, batch: batch) }

    public func forwardBackward(_ images: Tensor, mask: [Float], batch: Int) -> Double {
        let loss = forward(images, mask: mask, batch: batch)
        backward()
        return loss
    }
}
