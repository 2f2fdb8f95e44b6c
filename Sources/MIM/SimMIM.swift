import Foundation
import NN
import Tensor

/// SimMIM with its default head and loss: the encoder sees every token (masked ones
/// replaced by the mask token), a 1×1 linear "decoder" maps each token to its p·p·C
/// pixels in PixelShuffle order (k = c·p² + dy·p + dx), and the loss is the L1 distance on
/// masked pixels, normalised as the official code: Σ|x − x̂|·M / (Σ M + 1e-5) / C, with M
/// counted once per pixel, not per channel.
public final class SimMIM: Module {
    public let encoder: ViTEncoder
    public let decoder: Linear
    public let config: ViTConfig

    /// d loss / d prediction, `[B·L, p²C]`.
    private let gradPred = Tensor(shape: [0])
    private var batch = 0
    private var mask: [Float] = []

    public init(_ config: ViTConfig) {
        self.config = config
        encoder = ViTEncoder(config)
        let p = config.patchSize, C = config.channels, D = config.dim
        decoder = Linear("decoder", in: D, out: p * p * C, weightShape: [p * p * C, D, 1, 1],
                         layerID: config.depth + 1)
    }

    public var parameters: [Parameter] { encoder.parameters + decoder.parameters }

    /// The prediction per token, `[B·L, p²C]`, valid after `forward`.
    public var prediction: Tensor { decoder.output }

    /// Loss of one batch; `mask` is on the token grid (`B·L`, 1 = masked).
    public func forward(_ images: Tensor, mask: [Float], batch: Int) -> Double {
        self.batch = batch
        self.mask = mask
        var noRNG: PRNG? = nil
        let z = encoder.forward(images, batch: batch, mask: mask, rng: &noRNG)
        let pred = decoder.forward(z)
        return SimMIM.maskedL1(pred: pred, target: encoder.patchEmbed.patches, mask: mask,
                               pixelsPerToken: config.patchSize * config.patchSize,
                               channels: config.channels, grad: gradPred)
    }

    /// Accumulates every parameter gradient of the last `forward`.
    public func backward() {
        encoder.backward(decoder.backward(gradPred))
    }

    public func forwardBackward(_ images: Tensor, mask: [Float], batch: Int) -> Double {
        let loss = forward(images, mask: mask, batch: batch)
        backward()
        return loss
    }

    /// The reconstruction as images `[B, C, H, W]` (the official model's `x_rec`).
    public func reconstruction() -> Tensor {
        let c = config
        let out = Tensor(shape: [batch, c.channels, c.imageSize, c.imageSize])
        PatchEmbed.col2im(prediction.data, batch: batch, channels: c.channels, imageSize: c.imageSize,
                          patchSize: c.patchSize, into: out.data)
        return out
    }

    /// Masked L1 over token rows; writes d loss / d pred into `grad` (zero on visible rows).
    public static func maskedL1(pred: Tensor, target: Tensor, mask: [Float], pixelsPerToken: Int,
                                channels: Int, grad: Tensor) -> Double {
        let rows = mask.count, K = pred.count / rows
        let masked = mask.reduce(0.0) { $0 + Double($1) }
        let denom = (masked * Double(pixelsPerToken) + 1e-5) * Double(channels)
        grad.resize(pred.shape)
        let P = pred.data, T = target.data, G = grad.data
        var partial = [Double](repeating: 0, count: rows)
        partial.withUnsafeMutableBufferPointer { part in
            let S = part.baseAddress!
            Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / K)) { lo, hi in
                for r in lo..<hi {
                    let w = mask[r]
                    if w == 0 { (G + r * K).update(repeating: 0, count: K); S[r] = 0; continue }
                    var s = 0.0
                    let gscale = Float(Double(w) / denom)
                    for k in 0..<K {
                        let d = P[r * K + k] - T[r * K + k]
                        s += Double(abs(d))
                        // sign(0) = 0, as torch's L1 gradient
                        G[r * K + k] = d > 0 ? gscale : (d < 0 ? -gscale : 0)
                    }
                    S[r] = s * Double(w)
                }
            }
        }
        return partial.reduce(0, +) / denom
    }
}
