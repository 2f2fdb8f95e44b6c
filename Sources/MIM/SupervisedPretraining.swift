import NN
import Tensor

/// Supervised pre-training on the pool's labels: a ViT with a class token and the fixed
/// sin-cos position (MAE's and MaskAlign's student layout, so its attention has a class-token
/// row for attentive masking), the class token's feature, a linear classifier, softmax
/// cross-entropy. It exists to make a MaskAlign teacher in-harness: it has seen labels (of
/// the pool, which the fine-tune budget does not include, but of the same classes), as CLIP
/// has seen captions, so a student of it is not label-free.
public final class SupervisedPretraining: PretrainMethod {
    public let encoder: ViTEncoder
    public let head: ClassifierHead
    public let config: ViTConfig
    private var labels: [Int32] = []
    private let gradLogits = Tensor(shape: [0])

    public init(_ vit: ViTConfig, classes: Int) throws {
        try vit.validate()
        config = vit
        encoder = ViTEncoder(vit, options: .mae)
        head = ClassifierHead("head", dim: vit.dim, classes: classes, layerID: vit.depth + 1, pool: .cls, prefixTokens: 1)
    }

    public var parameters: [Parameter] { encoder.parameters + head.parameters }
    public var backbone: any ImageEncoder { encoder }
    /// DeiT's recipe: AdamW (0.9, 0.999), lr = base_lr · batch / 512.
    public var betas: (Float, Float) { (0.9, 0.999) }
    public var referenceBatch: Int { 512 }

    /// timm's ViT: truncated normal (0.02) weights and class token, zero biases, unit gains.
    public func initialize(_ rng: inout PRNG) {
        encoder.initialize(&rng)
        rng.fillTruncatedNormal(head.fc.weight.value, std: 0.02)
        head.fc.bias?.value.zero()
    }

    public func drawMasks(batch: Int, _ rng: inout PRNG) {}

    public func setLabels(_ labels: [Int32]) { self.labels = labels }

    public func step(_ images: Tensor, batch: Int) -> Double {
        precondition(labels.count == batch, "SupervisedPretraining.step: \(labels.count) labels for \(batch) images")
        var noRNG: PRNG? = nil
        let z = encoder.forward(images, batch: batch, rng: &noRNG)
        let logits = head.forward(z, batch: batch, tokens: z.shape[0] / batch)
        let loss = CrossEntropy.forwardBackward(logits: logits, labels: labels, grad: gradLogits)
        encoder.backwardAll(head.backward(gradLogits))
        return loss
    }

    public var flopsPerImage: FlopCount { SupervisedPretraining.flopsPerImage(config, classes: head.fc.outFeatures) }

    public static func flopsPerImage(_ vit: ViTConfig, classes: Int) -> FlopCount {
        let f = ViTEncoder.flops(vit, prefixTokens: 1, kept: nil)
        let fwd = f.forward + 2 * Double(vit.dim * classes)
        return FlopCount(forward: fwd, train: 3 * fwd - f.patchEmbedding)
    }
}
