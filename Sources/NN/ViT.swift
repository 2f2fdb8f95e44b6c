import Foundation
import Tensor

/// The plain ViT encoder SimMIM pre-trains: patch embedding, mask token mixed in *before*
/// the learnable absolute position embedding, pre-norm blocks, final LayerNorm; no class
/// token (the fine-tune head mean-pools).
public struct ViTConfig: Codable, Equatable, Sendable {
    public var imageSize = 32
    public var patchSize = 4
    public var channels = 3
    public var dim = 128
    public var depth = 6
    public var heads = 4
    public var mlpRatio: Double = 4
    public var lnEps: Float = 1e-6
    public var dropPath: Float = 0

    public init(imageSize: Int = 32, patchSize: Int = 4, channels: Int = 3, dim: Int = 128, depth: Int = 6,
                heads: Int = 4, mlpRatio: Double = 4, lnEps: Float = 1e-6, dropPath: Float = 0) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
        self.dim = dim; self.depth = depth; self.heads = heads; self.mlpRatio = mlpRatio
        self.lnEps = lnEps; self.dropPath = dropPath
    }

    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    public var mlpHidden: Int { Int(Double(dim) * mlpRatio) }

    /// The benchmark model: 32×32, patch 4, dim 128, depth 6, 4 heads, MLP ratio 4.
    public static let micro = ViTConfig()
    /// A two-block model for quick tests (the oracle's `case_small`).
    public static let nano = ViTConfig(dim: 48, depth: 2, heads: 3)
    public static let presets: [String: ViTConfig] = ["vit-micro": .micro, "vit-nano": .nano,
                                                      "vit-tiny": ViTConfig(dim: 192, depth: 12, heads: 3)]

    public func validate() throws {
        func bad(_ s: String) -> ModelError { .invalidConfig(s) }
        if imageSize <= 0 || patchSize <= 0 || imageSize % patchSize != 0 {
            throw bad("encoder.patch = \(patchSize) must divide data.image_size = \(imageSize)")
        }
        if dim <= 0 || heads <= 0 || dim % heads != 0 {
            throw bad("encoder.dim = \(dim) must be a positive multiple of encoder.heads = \(heads)")
        }
        if depth <= 0 { throw bad("encoder.depth = \(depth) must be at least 1") }
        if mlpRatio <= 0 { throw bad("encoder.mlp_ratio = \(mlpRatio) must be positive") }
        if !(0..<1).contains(dropPath) { throw bad("encoder.drop_path = \(dropPath) must be in [0, 1)") }
    }
}

public final class ViTEncoder: Module {
    public let config: ViTConfig
    public let patchEmbed: PatchEmbed
    public let maskToken: Parameter
    public let posEmbed: Parameter
    public let blocks: [Block]
    public let norm: LayerNorm

    /// Tokens after mask mixing and the position embedding (`act.tokens_in`).
    public let tokens = Tensor(shape: [0])
    private var mask: [Float] = []
    private var batch = 0
    private let gradTokens = Tensor(shape: [0])

    public init(_ config: ViTConfig, name: String = "encoder") {
        self.config = config
        let D = config.dim
        patchEmbed = PatchEmbed(name + ".patch_embed", imageSize: config.imageSize, patchSize: config.patchSize,
                                channels: config.channels, dim: D)
        maskToken = Parameter(name + ".mask_token", shape: [1, 1, D], layerID: 0)
        posEmbed = Parameter(name + ".pos_embed", shape: [1, config.tokens, D], weightDecay: false, layerID: 0)
        blocks = (0..<config.depth).map {
            Block("\(name).blocks.\($0)", dim: D, heads: config.heads, mlpHidden: config.mlpHidden,
                  eps: config.lnEps, layerID: $0 + 1)
        }
        norm = LayerNorm(name + ".norm", dim: D, eps: config.lnEps, layerID: config.depth + 1)
        setDropPath(config.dropPath)
    }

    public var parameters: [Parameter] {
        patchEmbed.parameters + [maskToken, posEmbed] + blocks.flatMap(\.parameters) + norm.parameters
    }

    /// Stochastic depth rising linearly from 0 at the first block to `rate` at the last (timm).
    public func setDropPath(_ rate: Float) {
        for (i, b) in blocks.enumerated() {
            b.dropPath = blocks.count > 1 ? rate * Float(i) / Float(blocks.count - 1) : rate
        }
    }

    /// The official SimMIM/BEiT ViT initialisation: truncated normal (std 0.02) for weights,
    /// the position embedding and the mask token; zero biases; unit LayerNorm gains; each
    /// block's `proj` and `fc2` weights divided by √(2·(i+1)).
    public func initialize(_ rng: inout PRNG) {
        for p in parameters {
            if p.name.hasSuffix(".bias") { p.value.zero() }
            else if p.name.contains("norm") { p.value.fill(1) }
            else { rng.fillTruncatedNormal(p.value, std: 0.02) }
        }
        for (i, b) in blocks.enumerated() {
            let s = 1 / Float(2 * (i + 1)).squareRoot()
            for w in [b.attn.proj.weight.value, b.mlp.fc2.weight.value] {
                for k in 0..<w.count { w.data[k] *= s }
            }
        }
    }

    /// images `[B, C, H, W]`; `mask` on the token grid (`B·L`, 1 = masked) or nil.
    /// Returns the normalised tokens `[B·L, D]`.
    @discardableResult
    public func forward(_ images: Tensor, batch: Int, mask: [Float]?, rng: inout PRNG?) -> Tensor {
        let L = config.tokens, D = config.dim
        self.batch = batch
        let e = patchEmbed.forward(images, batch: batch)
        tokens.resize([batch * L, D])
        let E = e.data, T = tokens.data, P = posEmbed.value.data, M = maskToken.value.data
        self.mask = mask ?? []
        let w = self.mask
        precondition(w.isEmpty || w.count == batch * L, "ViTEncoder: mask has \(w.count) entries, expected \(batch * L)")
        Parallel.chunks(batch * L, minPerChunk: max(1, Parallel.elementwiseGrain / D)) { lo, hi in
            for r in lo..<hi {
                let src = (w.isEmpty || w[r] == 0) ? E + r * D : M
                if !w.isEmpty && w[r] != 0 && w[r] != 1 {
                    // Soft masks: t = e·(1−w) + mask_token·w, as the official code writes it.
                    let wr = w[r]
                    for d in 0..<D { T[r * D + d] = E[r * D + d] * (1 - wr) + M[d] * wr + P[(r % L) * D + d] }
                } else {
                    vmap2(src, P + (r % L) * D, T + r * D, D) { $0 + $1 }
                }
            }
        }
        var x = tokens
        for b in blocks { x = b.forward(x, batch: batch, tokens: L, rng: &rng) }
        return norm.forward(x)
    }

    /// Accumulates every parameter gradient from d loss / d output tokens.
    public func backward(_ dz: Tensor) {
        let L = config.tokens, D = config.dim
        var g = norm.backward(dz)
        for b in blocks.reversed() { g = b.backward(g) }
        // Position embedding: summed over images; mask token: over masked tokens;
        // patch embedding: the unmasked share of each token's gradient.
        let G = g.data, B = batch
        let dP = posEmbed.grad.data
        // Position embedding: threads split the L·D entries, each summing over images in order.
        Parallel.chunks(L * D, minPerChunk: 4096) { lo, hi in
            for b in 0..<B { Kernels.add(G + b * L * D + lo, into: dP + lo, hi - lo) }
        }
        gradTokens.resize([batch * L, D])
        let dE = gradTokens.data, dM = maskToken.grad.data
        let w = mask
        Parallel.chunks(batch * L, minPerChunk: max(1, Parallel.elementwiseGrain / D)) { lo, hi in
            for r in lo..<hi {
                let wr: Float = w.isEmpty ? 0 : w[r]
                if wr == 0 { (dE + r * D).update(from: G + r * D, count: D); continue }
                let keep = V16(repeating: 1 - wr)
                vmap(G + r * D, dE + r * D, D) { $0 * keep }
            }
        }
        // Mask token: Σ over masked tokens, serial in token order (a short pass).
        if !w.isEmpty {
            for r in 0..<(batch * L) where w[r] != 0 {
                let wr = V16(repeating: w[r])
                vmap2(G + r * D, dM, dM, D) { $1.addingProduct($0, wr) }
            }
        }
        patchEmbed.backward(gradTokens)
    }

    /// Output of block i, for comparisons (`act.block.i`).
    public func blockOutput(_ i: Int) -> Tensor { blocks[i].output }
}
