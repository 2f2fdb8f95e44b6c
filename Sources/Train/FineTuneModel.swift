import Foundation
import NN
import Tensor

/// Encoder (no masking) → one feature per image (`TokenPool`) → `cls_head` → softmax
/// cross-entropy.
public final class FineTuneModel: Module {
    public let encoder: any ImageEncoder
    public let head: ClassifierHead
    public var labelSmoothing: Float = 0
    private let gradLogits = Tensor(shape: [0])

    /// A fresh encoder of `encoder`'s architecture (same names), not the instance itself.
    public init(encoder: any ImageEncoder, classes: Int, pool: TokenPool = .mean) {
        self.encoder = encoder.sameArchitecture()
        head = ClassifierHead(dim: encoder.dim, classes: classes, layerID: encoder.layerCount + 1, pool: pool,
                              prefixTokens: encoder.prefixTokens)
    }

    /// The plain SimMIM ViT (mean pool, no class token), as the oracle's fine-tune model.
    public convenience init(_ config: ViTConfig, classes: Int) {
        self.init(encoder: ViTEncoder(config), classes: classes)
    }

    public var parameters: [Parameter] { encoder.parameters + head.parameters }

    /// Copies a pre-trained encoder's parameters in by name: every encoder parameter must be
    /// there with its shape, and nothing else may be (a name that matches nothing is a
    /// mismatch between the pre-trained and the fine-tune architecture, not something to drop).
    public func loadEncoder(_ state: [String: Tensor]) throws {
        let mine = Set(encoder.parameters.map(\.name))
        if let extra = state.keys.sorted().first(where: { !mine.contains($0) }) {
            throw ModelError.invalidConfig("pre-trained encoder has a parameter '\(extra)' the fine-tune encoder does not (\(state.count) given, \(mine.count) expected)")
        }
        try encoder.load(state, strict: true)
    }

    /// The encoder on every token, then the classifier (2·D·classes), whose input gradient
    /// is needed; the patch embedding's input gradient is not.
    public var flopsPerImage: FlopCount { FineTuneModel.flops(encoder.flops(kept: nil), dim: encoder.dim, classes: head.fc.outFeatures) }

    public static func flops(_ enc: (forward: Double, patchEmbedding: Double), dim: Int, classes: Int) -> FlopCount {
        let fwd = enc.forward + 2 * Double(dim * classes)
        return FlopCount(forward: fwd, train: 3 * fwd - enc.patchEmbedding)
    }

    /// Logits `[B, classes]`; `rng` drives drop-path when training, nil evaluates.
    public func logits(_ images: Tensor, batch: Int, rng: inout PRNG?) -> Tensor {
        let z = encoder.forward(images, batch: batch, rng: &rng)
        return head.forward(z, batch: batch, tokens: z.shape[0] / batch)
    }

    /// Mean cross-entropy and the logits; accumulates gradients.
    public func forwardBackward(_ images: Tensor, labels: [Int32], batch: Int, rng: PRNG? = nil) -> (Double, Tensor) {
        var r = rng
        let out = logits(images, batch: batch, rng: &r)
        let loss = CrossEntropy.forwardBackward(logits: out, labels: labels, smoothing: labelSmoothing, grad: gradLogits)
        encoder.backwardAll(head.backward(gradLogits))
        return (loss, out)
    }
}
