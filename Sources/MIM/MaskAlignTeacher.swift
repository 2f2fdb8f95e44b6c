import NN
import Tensor

/// MaskAlign's teacher: a ViT loaded from a checkpoint, frozen (its parameters belong to no
/// optimiser and no state dict), run on the intact image. It hands out every block's
/// output (the official code's `hidden_states[1:]`, before the final norm) and the last
/// block's attention probabilities. It sees the images exactly as the student does: the
/// in-harness teachers were trained on the same normalisation, so the official CLIP
/// re-normalisation does not apply.
public final class MaskAlignTeacher {
    public let encoder: ViTEncoder

    public init(_ encoder: ViTEncoder) {
        self.encoder = encoder
        encoder.setDropPath(0)
    }

    public var dim: Int { encoder.dim }
    public var depth: Int { encoder.layerCount }
    public var heads: Int { encoder.config.heads }
    public var hasClassToken: Bool { encoder.prefixTokens > 0 }

    public func forward(_ images: Tensor, batch: Int) {
        var noRNG: PRNG? = nil
        encoder.forward(images, batch: batch, rng: &noRNG)
    }

    /// Block i's output of the last forward, `[B·(prefix + L), dim]`.
    public func features(ofBlock i: Int) -> Tensor { encoder.features(ofBlock: i) }

    /// The last block's attention probabilities, `[B, heads, prefix + L, prefix + L]`.
    public var lastAttention: Tensor { encoder.blocks[depth - 1].attn.probs }

    /// Forward matmul FLOPs per image.
    public static func flops(dim: Int, depth: Int, hidden: Int, tokens: Int, classToken: Bool, patchInput: Int) -> Double {
        let S = Double(tokens + (classToken ? 1 : 0))
        return 2 * Double(tokens * dim * patchInput)
            + Double(depth) * ViTEncoder.blockFlops(tokens: S, dim: Double(dim), hidden: Double(hidden))
    }
}
