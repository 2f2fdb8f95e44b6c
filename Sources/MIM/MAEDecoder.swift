import NN
import Tensor

/// MAE's decoder (`models_mae.py`): Linear D → Dd on the encoded tokens, the tokens put back
/// at their grid positions with a learned mask token at the removed ones (`TokenGather` on
/// `ids_restore`), the fixed 2-D sin-cos position embedding (zero for the class token),
/// `depth` pre-norm blocks, LayerNorm, Linear Dd → p²·C; the class token's row is dropped
/// after the prediction. Parameters `decoder.embed`, `decoder.mask_token`,
/// `decoder.blocks.i`, `decoder.norm`, `decoder.pred` (official: `decoder_embed`,
/// `mask_token`, `decoder_blocks.i`, `decoder_norm`, `decoder_pred`).
public final class MAEDecoder: Module {
    public let embed: Linear
    public let unshuffle: TokenGather
    public let position: Tensor
    public let blocks: [Block]
    public let norm: LayerNorm
    public let pred: Linear
    public let tokens: Int
    public let width: Int

    /// Decoder input after the position embedding `[B·(1+L), Dd]` (`act.dec_in`).
    public let input = Tensor(shape: [0])
    /// The prediction without the class token's row, `[B·L, outputs]`.
    public let output = Tensor(shape: [0])
    private let gradPred = Tensor(shape: [0])
    private var batch = 0

    /// `maskToken`: false when every position arrives encoded (mask token in the encoder).
    public init(dim: Int, tokens: Int, grid: Int, width: Int, depth: Int, heads: Int, outputs: Int, eps: Float,
                maskToken: Bool, layerID: Int) {
        self.tokens = tokens
        self.width = width
        embed = Linear("decoder.embed", in: dim, out: width, layerID: layerID)
        unshuffle = TokenGather(fillName: maskToken ? "decoder.mask_token" : nil, dim: width, layerID: layerID)
        position = SinCosPosition.table(dim: width, grid: grid)
        blocks = (0..<depth).map {
            Block("decoder.blocks.\($0)", dim: width, heads: heads, mlpHidden: 4 * width, eps: eps, layerID: layerID)
        }
        norm = LayerNorm("decoder.norm", dim: width, eps: eps, layerID: layerID)
        pred = Linear("decoder.pred", in: width, out: outputs, layerID: layerID)
    }

    public var parameters: [Parameter] {
        embed.parameters + unshuffle.parameters + blocks.flatMap(\.parameters) + norm.parameters + pred.parameters
    }

    /// The decoder's rows per image from the encoder's: row 0 (class token) ← 0, row 1 + l ←
    /// 1 + ids_restore[l] if token l was kept, else −1 (the mask token).
    public static func unshuffleIndex(_ m: TokenMasking) -> [Int32] {
        let L = m.tokens, K = Int32(m.kept)
        var idx = [Int32](repeating: 0, count: m.batch * (1 + L))
        for b in 0..<m.batch {
            for l in 0..<L {
                let r = m.idsRestore[b * L + l]
                idx[b * (1 + L) + 1 + l] = r < K ? 1 + r : -1
            }
        }
        return idx
    }

    /// Every position encoded (mask token in the encoder): row i ← row i.
    public static func identityIndex(batch: Int, tokens L: Int) -> [Int32] {
        (0..<batch).flatMap { _ in (0...L).map(Int32.init) }
    }

    /// latent `[B·(1+n), D]` → prediction `[B·L, outputs]`.
    @discardableResult
    public func forward(_ latent: Tensor, batch: Int, index: [Int32]) -> Tensor {
        self.batch = batch
        let L = tokens, W = width, S = 1 + L
        let full = unshuffle.forward(embed.forward(latent), batch: batch, index: index)
        input.resize([batch * S, W])
        let F = full.data, P = position.data, T = input.data
        for b in 0..<batch {
            (T + b * S * W).update(from: F + b * S * W, count: W)
            vmap2(F + (b * S + 1) * W, P, T + (b * S + 1) * W, L * W) { $0 + $1 }
        }
        var x = input
        var noRNG: PRNG? = nil
        for blk in blocks { x = blk.forward(x, batch: batch, tokens: S, rng: &noRNG) }
        let y = pred.forward(norm.forward(x))
        let K = pred.outFeatures
        output.resize([batch * L, K])
        for b in 0..<batch { (output.data + b * L * K).update(from: y.data + (b * S + 1) * K, count: L * K) }
        return output
    }

    /// d prediction `[B·L, outputs]` → d latent; accumulates the decoder's gradients.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let L = tokens, S = 1 + L, K = pred.outFeatures
        gradPred.resize([batch * S, K], zeroed: true)
        for b in 0..<batch { (gradPred.data + (b * S + 1) * K).update(from: dy.data + b * L * K, count: L * K) }
        var g = norm.backward(pred.backward(gradPred))
        for blk in blocks.reversed() { g = blk.backward(g) }
        return embed.backward(unshuffle.backward(g))
    }

    /// Forward FLOPs per image with `encoded` rows coming in (1 + kept tokens).
    public static func flops(dim D: Int, tokens L: Int, encoded: Int, width W: Int, depth: Int, outputs: Int) -> Double {
        let S = Double(1 + L), w = Double(W)
        return 2 * Double(encoded) * Double(D) * w + Double(depth) * ViTEncoder.blockFlops(tokens: S, dim: w, hidden: 4 * w)
            + 2 * S * w * Double(outputs)
    }
}
