import NN
import Tensor

/// A heavier SimMIM head, shaped like MAE's decoder but over all L tokens (SimMIM's
/// encoder already sees every token, masked ones as the mask token): Linear D → width,
/// a learnable position embedding, `depth` pre-norm blocks, LayerNorm, Linear width →
/// outputs per token.
///
/// SimMIM's Table 2 uses inverse Swin-T / Swin-B heads, which need a Swin encoder and are
/// not implemented; this plain-ViT stack is the closest heavier head for a ViT encoder.
/// MAE fixes its decoder position embedding to sin-cos; here it is learned (and, like the
/// encoder's, not weight-decayed).
public final class TransformerHead: PredictionHead {
    public let embed: Linear
    public let posEmbed: Parameter
    public let blocks: [Block]
    public let norm: LayerNorm
    public let pred: Linear
    public let tokens: Int
    public let width: Int

    /// Tokens after the embedding and the position embedding.
    private let embedded = Tensor(shape: [0])
    private var batch = 0

    public init(dim: Int, outputs: Int, tokens: Int, width: Int, depth: Int, heads: Int, eps: Float, layerID: Int) {
        self.tokens = tokens
        self.width = width
        embed = Linear("decoder.embed", in: dim, out: width, layerID: layerID)
        posEmbed = Parameter("decoder.pos_embed", shape: [1, tokens, width], weightDecay: false, layerID: layerID)
        blocks = (0..<depth).map {
            Block("decoder.blocks.\($0)", dim: width, heads: heads, mlpHidden: 4 * width, eps: eps, layerID: layerID)
        }
        norm = LayerNorm("decoder.norm", dim: width, eps: eps, layerID: layerID)
        pred = Linear("decoder.pred", in: width, out: outputs, layerID: layerID)
    }

    public var parameters: [Parameter] {
        embed.parameters + [posEmbed] + blocks.flatMap(\.parameters) + norm.parameters + pred.parameters
    }
    public var outputsPerToken: Int { pred.outFeatures }
    public var outputLayer: Linear { pred }

    @discardableResult public func forward(_ z: Tensor, batch: Int) -> Tensor {
        self.batch = batch
        let L = tokens, W = width
        let e = embed.forward(z)
        embedded.resize([batch * L, W])
        let E = e.data, P = posEmbed.value.data, T = embedded.data
        Parallel.chunks(batch * L, minPerChunk: max(1, Parallel.elementwiseGrain / W)) { lo, hi in
            for r in lo..<hi { vmap2(E + r * W, P + (r % L) * W, T + r * W, W) { $0 + $1 } }
        }
        var x = embedded
        var noRNG: PRNG? = nil      // no drop-path in the head
        for b in blocks { x = b.forward(x, batch: batch, tokens: L, rng: &noRNG) }
        return pred.forward(norm.forward(x))
    }

    @discardableResult public func backward(_ dy: Tensor) -> Tensor {
        let L = tokens, W = width
        var g = norm.backward(pred.backward(dy))
        for b in blocks.reversed() { g = b.backward(g) }
        // Position embedding: summed over the images, in image order.
        let G = g.data, dP = posEmbed.grad.data
        for b in 0..<batch { Kernels.add(G + b * L * W, into: dP, L * W) }
        return embed.backward(g)
    }

    public func initialize(_ rng: inout PRNG) {
        for p in parameters {
            if p.name.hasSuffix(".bias") { p.value.zero() }
            else if p.name.contains("norm") { p.value.fill(1) }
            else { rng.fillTruncatedNormal(p.value, std: 0.02) }
        }
    }
}
