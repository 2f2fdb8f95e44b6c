import NN
import Tensor

/// What SimMIM puts on top of the encoder: per-token features `[B·L, D]` in, per-token
/// predictions `[B·L, outputsPerToken]` out. Parameters are named `decoder.*` (timm-like),
/// and sit at layer id depth + 1 for layer-wise lr decay.
public protocol PredictionHead: Module {
    var outputsPerToken: Int { get }
    /// The last forward's prediction.
    var output: Tensor { get }
    /// The final projection to the outputs (the whole head for `linear`).
    var outputLayer: Linear { get }
    @discardableResult func forward(_ z: Tensor, batch: Int) -> Tensor
    /// Accumulates parameter gradients; returns d loss / d z.
    @discardableResult func backward(_ dy: Tensor) -> Tensor
    /// Truncated-normal (std 0.02) weights and position embeddings, zero biases, unit norms.
    func initialize(_ rng: inout PRNG)
}

extension PredictionHead {
    public var output: Tensor { outputLayer.output }
}

/// Builds the head a config names.
public func makePredictionHead(_ config: SimMIMConfig, encoder vit: ViTConfig) -> PredictionHead {
    let out = config.outputsPerToken(for: vit)
    switch config.head {
    case .linear: return LinearHead(dim: vit.dim, outputs: out, layerID: vit.depth + 1)
    case .mlp2: return MLPHead(dim: vit.dim, outputs: out, layerID: vit.depth + 1)
    case .transformer:
        return TransformerHead(dim: vit.dim, outputs: out, tokens: vit.tokens, width: config.headWidth,
                               depth: config.headDepth, heads: config.headHeads, eps: vit.lnEps, layerID: vit.depth + 1)
    }
}

/// The official SimMIM head: a 1×1 convolution D → outputs, i.e. one Linear per token.
/// The weight keeps the conv shape `[out, D, 1, 1]` so official checkpoints load by name.
public final class LinearHead: PredictionHead {
    public let decoder: Linear

    public init(dim: Int, outputs: Int, layerID: Int) {
        decoder = Linear("decoder", in: dim, out: outputs, weightShape: [outputs, dim, 1, 1], layerID: layerID)
    }

    public var parameters: [Parameter] { decoder.parameters }
    public var outputsPerToken: Int { decoder.outFeatures }
    public var outputLayer: Linear { decoder }

    @discardableResult public func forward(_ z: Tensor, batch: Int) -> Tensor { decoder.forward(z) }
    @discardableResult public func backward(_ dy: Tensor) -> Tensor { decoder.backward(dy) }

    public func initialize(_ rng: inout PRNG) {
        rng.fillTruncatedNormal(decoder.weight.value, std: 0.02)
        decoder.bias?.value.zero()
    }
}

/// SimMIM Table 2's "2-layer MLP": Linear D → D, GELU, Linear D → outputs, per token.
public final class MLPHead: PredictionHead {
    public let fc1: Linear
    public let act = GELU()
    public let fc2: Linear

    public init(dim: Int, outputs: Int, layerID: Int) {
        fc1 = Linear("decoder.fc1", in: dim, out: dim, layerID: layerID)
        fc2 = Linear("decoder.fc2", in: dim, out: outputs, layerID: layerID)
    }

    public var parameters: [Parameter] { fc1.parameters + fc2.parameters }
    public var outputsPerToken: Int { fc2.outFeatures }
    public var outputLayer: Linear { fc2 }

    @discardableResult public func forward(_ z: Tensor, batch: Int) -> Tensor {
        fc2.forward(act.forward(fc1.forward(z)))
    }

    @discardableResult public func backward(_ dy: Tensor) -> Tensor {
        fc1.backward(act.backward(fc2.backward(dy)))
    }

    public func initialize(_ rng: inout PRNG) {
        for l in [fc1, fc2] {
            rng.fillTruncatedNormal(l.weight.value, std: 0.02)
            l.bias?.value.zero()
        }
    }
}
