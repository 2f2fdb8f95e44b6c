import Tensor

/// What the pre-training methods, the fine-tune model and the linear probe need from an
/// encoder (ViT today; Swin next), and nothing about how it is built.
///
/// The forward pass is split where the methods differ: `embed` makes one row per patch
/// (`[B·L, D]`, before any position information), a method may change those rows (SimMIM
/// and MAE's "[M] in encoder" mix in their mask token), then `encode` runs the encoder on
/// all of them or on a subset per image (MAE keeps the visible ones). The backward pass
/// mirrors it: `backward` returns the gradient of those rows, `backwardEmbedding` finishes.
public protocol ImageEncoder: Module {
    /// Token width D.
    var dim: Int { get }
    /// Pixels per token side at the input.
    var patchSize: Int { get }
    /// Pixels per token side at the output (the patch size for a plain ViT; Swin merges).
    var outputStride: Int { get }
    /// Number of blocks (layer-wise lr decay uses layerCount + 2 depth indices).
    var layerCount: Int { get }
    /// Patch tokens per image, L.
    var tokenCount: Int { get }
    /// Tokens put before the patch tokens in `encode`'s output (1 with a class token).
    var prefixTokens: Int { get }
    /// The image's patch rows `[B·L, C·p²]` of the last `embed` (c·p² + dy·p + dx order).
    var patches: Tensor { get }

    func embed(_ images: Tensor, batch: Int) -> Tensor
    /// `x`: `embed`'s rows `[B·L, D]` (possibly changed). `keep`: per image, the indices of
    /// the tokens to encode, `B·K` in all, in the order they are to be encoded; nil = all.
    /// Returns `[B·(prefix + K), D]`.
    func encode(_ x: Tensor, batch: Int, keep: [Int32]?, rng: inout PRNG?) -> Tensor
    /// From d loss / d output, accumulates the encoder's gradients (not the patch
    /// embedding's) and returns d loss / d x, `[B·L, D]` (zero for tokens not kept).
    func backward(_ dz: Tensor) -> Tensor
    /// The patch embedding's gradients from d loss / d (embed's output).
    func backwardEmbedding(_ dx: Tensor)

    /// Output of block i of the last `encode`, `[B·(prefix + K), D]`.
    func features(ofBlock i: Int) -> Tensor
    /// Adds `g` to d loss / d (block i's output) in the next `backward` (feature targets on
    /// intermediate blocks, e.g. MaskAlign's).
    func addGradient(_ g: Tensor, atBlock i: Int)

    /// The parameters with a method's input-side parameters (a mask token) placed after the
    /// patch embedding, the order the official models list them, and the order gradient
    /// norms are summed in.
    func parameters(inserting extra: [Parameter]) -> [Parameter]
    /// The encoder's own initialisation, drawing for `extra` where `parameters(inserting:)`
    /// puts them.
    func initialize(_ rng: inout PRNG, with extra: [Parameter])
    /// A new encoder of the same architecture and names (for fine-tuning a copy).
    func sameArchitecture() -> any ImageEncoder
    /// Stochastic depth (fine-tuning); 0 = off.
    func setDropPath(_ rate: Float)
    /// Forward matmul FLOPs per image on `kept` patch tokens (nil = all), and the part of
    /// them that is the patch embedding (whose input gradient is never computed).
    func flops(kept: Int?) -> (forward: Double, patchEmbedding: Double)
}

extension ImageEncoder {
    public var parameters: [Parameter] { parameters(inserting: []) }

    public func initialize(_ rng: inout PRNG) { initialize(&rng, with: []) }

    /// All tokens, nothing changed: the fine-tune and probe forward pass.
    @discardableResult
    public func forward(_ images: Tensor, batch: Int, rng: inout PRNG?) -> Tensor {
        encode(embed(images, batch: batch), batch: batch, keep: nil, rng: &rng)
    }

    /// The whole backward pass of `forward`.
    public func backwardAll(_ dz: Tensor) { backwardEmbedding(backward(dz)) }
}
