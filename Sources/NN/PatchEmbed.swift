import Tensor

/// Conv2d(C → D, kernel = stride = p) as im2col + one matrix product.
///
/// Patch rows are ordered l = i·g + j (row i, column j of the patch grid) and each row's
/// columns c·p² + dy·p + dx, which is the OIHW kernel flattened: the weight keeps its
/// PyTorch shape `[D, C, p, p]`. `patches` is also the pixel target of SimMIM's head,
/// whose outputs use the same order.
public final class PatchEmbed: Module {
    public let proj: Linear
    public let patchSize: Int
    public let channels: Int
    public let imageSize: Int
    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }

    /// `[B·L, C·p·p]`
    public let patches = Tensor(shape: [0])

    public init(_ name: String, imageSize: Int, patchSize: Int, channels: Int, dim: Int) {
        precondition(imageSize % patchSize == 0)
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channels = channels
        proj = Linear(name, in: channels * patchSize * patchSize, out: dim,
                      weightShape: [dim, channels, patchSize, patchSize], layerID: 0)
    }

    public var parameters: [Parameter] { proj.parameters }

    /// images `[B, C, H, W]` → embeddings `[B·L, D]`
    @discardableResult
    public func forward(_ images: Tensor, batch: Int) -> Tensor {
        PatchEmbed.im2col(images.data, batch: batch, channels: channels, imageSize: imageSize,
                          patchSize: patchSize, into: patches)
        return proj.forward(patches)
    }

    /// Only the weight gradient: the images need none.
    public func backward(_ dy: Tensor) { proj.backward(dy, needInputGrad: false) }

    public static func im2col(_ x: UnsafePointer<Float>, batch: Int, channels C: Int, imageSize H: Int,
                              patchSize p: Int, into out: Tensor) {
        let g = H / p, L = g * g, K = C * p * p
        out.resize([batch * L, K])
        let O = out.data
        Parallel.chunks(batch, minPerChunk: 8) { lo, hi in
            for b in lo..<hi {
                for i in 0..<g {
                    for j in 0..<g {
                        let row = O + (b * L + i * g + j) * K
                        for c in 0..<C {
                            for dy in 0..<p {
                                let src = x + ((b * C + c) * H + i * p + dy) * H + j * p
                                (row + (c * p + dy) * p).update(from: src, count: p)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The inverse: token rows `[B·L, C·p·p]` → images `[B, C, H, W]` (PixelShuffle(p)).
    public static func col2im(_ rows: UnsafePointer<Float>, batch: Int, channels C: Int, imageSize H: Int,
                              patchSize p: Int, into out: UnsafeMutablePointer<Float>) {
        let g = H / p, L = g * g, K = C * p * p
        for b in 0..<batch {
            for i in 0..<g {
                for j in 0..<g {
                    let row = rows + (b * L + i * g + j) * K
                    for c in 0..<C {
                        for dy in 0..<p {
                            let dst = out + ((b * C + c) * H + i * p + dy) * H + j * p
                            dst.update(from: row + (c * p + dy) * p, count: p)
                        }
                    }
                }
            }
        }
    }
}
