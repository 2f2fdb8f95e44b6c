import Foundation
import NN
import Tensor

/// Encoder (no masking) → mean over tokens → `cls_head` → softmax cross-entropy.
public final class FineTuneModel: Module {
    public let encoder: ViTEncoder
    public let head: ClassifierHead
    public let config: ViTConfig
    public var labelSmoothing: Float = 0
    private let gradLogits = Tensor(shape: [0])

    public init(_ config: ViTConfig, classes: Int) {
        self.config = config
        encoder = ViTEncoder(config)
        head = ClassifierHead(dim: config.dim, classes: classes, layerID: config.depth + 1)
    }

    /// The mask token is not used when fine-tuning; it stays in the list (with a zero
    /// gradient) so names match a pre-trained checkpoint.
    public var parameters: [Parameter] { encoder.parameters + head.parameters }

    /// Logits `[B, classes]`; `rng` drives drop-path when training, nil evaluates.
    public func logits(_ images: Tensor, batch: Int, rng: inout PRNG?) -> Tensor {
        let z = encoder.forward(images, batch: batch, mask: nil, rng: &rng)
        return head.forward(z, batch: batch, tokens: config.tokens)
    }

    /// Mean cross-entropy and the logits; accumulates gradients.
    public func forwardBackward(_ images: Tensor, labels: [Int32], batch: Int, rng: PRNG? = nil) -> (Double, Tensor) {
        var r = rng
        let out = logits(images, batch: batch, rng: &r)
        let loss = CrossEntropy.forwardBackward(logits: out, labels: labels, smoothing: labelSmoothing, grad: gradLogits)
        encoder.backward(head.backward(gradLogits))
        return (loss, out)
    }
}
