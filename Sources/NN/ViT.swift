import Foundation
import Tensor

/// The plain ViT's shape: patch embedding, absolute position embedding, pre-norm blocks,
/// final LayerNorm. What differs between methods (class token, learned or fixed position
/// embedding) is in `ViTOptions`, which is not part of this config (nor of a run's
/// identity): the method decides it.
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

/// The ViT variants the methods use. SimMIM's: no class token, a learned position
/// embedding (`encoder.pos_embed`, not weight-decayed). MAE's (`models_mae.py`): a class
/// token (`encoder.cls_token`, whose position row is zero) and the fixed 2-D sin-cos table,
/// which is not a parameter.
public struct ViTOptions: Equatable, Sendable {
    public enum Position: String, Sendable, CaseIterable {
        case learned, sinCos
        /// The spelling of a run config's `encoder.position`.
        public var configName: String { self == .learned ? "learned" : "sincos" }
    }
    public var classToken: Bool
    public var position: Position

    public init(classToken: Bool = false, position: Position = .learned) {
        self.classToken = classToken
        self.position = position
    }

    public static let simmim = ViTOptions()
    public static let mae = ViTOptions(classToken: true, position: .sinCos)
}

public final class ViTEncoder: ImageEncoder {
    public let config: ViTConfig
    public let options: ViTOptions
    public let name: String
    public let patchEmbed: PatchEmbed
    /// The learned position embedding `[1, L, D]` (nil with a fixed one).
    public let posEmbed: Parameter?
    /// The fixed position table `[L, D]` (nil with a learned one).
    public let fixedPosition: Tensor?
    public let clsToken: Parameter?
    public let blocks: [Block]
    public let norm: LayerNorm

    /// The blocks' input: tokens after the position embedding, the subset and the class
    /// token (`act.tokens_in`), `[B·(prefix + K), D]`.
    public let tokens = Tensor(shape: [0])
    private var keep: [Int32]?
    private var batch = 0
    private var pendingGradients: [Int: Tensor] = [:]
    private let gradInput = Tensor(shape: [0])

    public init(_ config: ViTConfig, options: ViTOptions = .simmim, name: String = "encoder") {
        self.config = config
        self.options = options
        self.name = name
        let D = config.dim
        patchEmbed = PatchEmbed(name + ".patch_embed", imageSize: config.imageSize, patchSize: config.patchSize,
                                channels: config.channels, dim: D)
        switch options.position {
        case .learned:
            posEmbed = Parameter(name + ".pos_embed", shape: [1, config.tokens, D], weightDecay: false, layerID: 0)
            fixedPosition = nil
        case .sinCos:
            posEmbed = nil
            fixedPosition = SinCosPosition.table(dim: D, grid: config.grid)
        }
        clsToken = options.classToken ? Parameter(name + ".cls_token", shape: [1, 1, D], layerID: 0) : nil
        blocks = (0..<config.depth).map {
            Block("\(name).blocks.\($0)", dim: D, heads: config.heads, mlpHidden: config.mlpHidden,
                  eps: config.lnEps, layerID: $0 + 1)
        }
        norm = LayerNorm(name + ".norm", dim: D, eps: config.lnEps, layerID: config.depth + 1)
        setDropPath(config.dropPath)
    }

    public var dim: Int { config.dim }
    public var patchSize: Int { config.patchSize }
    public var outputStride: Int { config.patchSize }
    public var layerCount: Int { config.depth }
    public var tokenCount: Int { config.tokens }
    public var prefixTokens: Int { clsToken == nil ? 0 : 1 }
    public var patches: Tensor { patchEmbed.patches }

    public func parameters(inserting extra: [Parameter]) -> [Parameter] {
        patchEmbed.parameters + extra + (clsToken.map { [$0] } ?? []) + (posEmbed.map { [$0] } ?? [])
            + blocks.flatMap(\.parameters) + norm.parameters
    }

    public func sameArchitecture() -> any ImageEncoder { ViTEncoder(config, options: options, name: name) }

    /// Stochastic depth rising linearly from 0 at the first block to `rate` at the last (timm).
    public func setDropPath(_ rate: Float) {
        for (i, b) in blocks.enumerated() {
            b.dropPath = blocks.count > 1 ? rate * Float(i) / Float(blocks.count - 1) : rate
        }
    }

    /// The official SimMIM/BEiT ViT initialisation: truncated normal (std 0.02) for weights,
    /// the position embedding, the class token and `extra`; zero biases; unit LayerNorm
    /// gains; each block's `proj` and `fc2` weights divided by √(2·(i+1)).
    public func initialize(_ rng: inout PRNG, with extra: [Parameter]) {
        for p in parameters(inserting: extra) {
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

    /// images `[B, C, H, W]` → patch rows `[B·L, D]`.
    public func embed(_ images: Tensor, batch: Int) -> Tensor {
        patchEmbed.forward(images, batch: batch)
    }

    @discardableResult
    public func encode(_ x: Tensor, batch: Int, keep: [Int32]?, rng: inout PRNG?) -> Tensor {
        let L = config.tokens, D = config.dim, prefix = prefixTokens
        precondition(x.count == batch * L * D, "ViTEncoder: input \(x.shape), expected [\(batch * L), \(D)]")
        let n = keep.map { $0.count / batch } ?? L, S = prefix + n
        precondition(keep == nil || keep!.count == batch * n, "ViTEncoder: keep has \(keep!.count) indices for \(batch) images")
        self.batch = batch
        self.keep = keep
        tokens.resize([batch * S, D])
        let X = x.data, T = tokens.data, P = (posEmbed?.value ?? fixedPosition!).data
        // Adding the position before or after picking the subset is the same sum; MAE adds
        // it before, to every token.
        Parallel.chunks(batch * n, minPerChunk: max(1, Parallel.elementwiseGrain / D)) { lo, hi in
            for q in lo..<hi {
                let b = q / n, r = q % n
                let src = keep.map { Int($0[q]) } ?? r
                vmap2(X + (b * L + src) * D, P + src * D, T + (b * S + prefix + r) * D, D) { $0 + $1 }
            }
        }
        // The class token's position row is zero: it enters as it is.
        if let cls = clsToken {
            for b in 0..<batch { (T + b * S * D).update(from: cls.value.data, count: D) }
        }
        var h = tokens
        for blk in blocks { h = blk.forward(h, batch: batch, tokens: S, rng: &rng) }
        return norm.forward(h)
    }

    public func backward(_ dz: Tensor) -> Tensor {
        let L = config.tokens, D = config.dim, prefix = prefixTokens, B = batch
        var g = norm.backward(dz)
        for i in blocks.indices.reversed() {
            if let extra = pendingGradients[i] {
                precondition(extra.count == g.count, "addGradient: block \(i) gradient \(extra.shape), expected \(g.shape)")
                Kernels.add(extra.data, into: g.data, g.count)
            }
            g = blocks[i].backward(g)
        }
        pendingGradients = [:]
        let n = keep.map { $0.count / B } ?? L, S = prefix + n
        let G = g.data
        if let cls = clsToken {
            let dC = cls.grad.data
            for b in 0..<B { Kernels.add(G + b * S * D, into: dC, D) }
        }
        gradInput.resize([B * L, D], zeroed: keep != nil)
        let dX = gradInput.data
        if keep == nil && prefix == 0 {
            if let pos = posEmbed {
                // Threads split the L·D entries, each summing over images in order.
                let dP = pos.grad.data
                Parallel.chunks(L * D, minPerChunk: 4096) { lo, hi in
                    for b in 0..<B { Kernels.add(G + b * L * D + lo, into: dP + lo, hi - lo) }
                }
            }
            dX.update(from: G, count: B * L * D)
            return gradInput
        }
        for q in 0..<(B * n) {
            let b = q / n, r = q % n
            let src = keep.map { Int($0[q]) } ?? r
            let row = G + (b * S + prefix + r) * D
            (dX + (b * L + src) * D).update(from: row, count: D)
            if let pos = posEmbed { Kernels.add(row, into: pos.grad.data + src * D, D) }
        }
        return gradInput
    }

    public func backwardEmbedding(_ dx: Tensor) { patchEmbed.backward(dx) }

    public func features(ofBlock i: Int) -> Tensor { blocks[i].output }

    public func addGradient(_ g: Tensor, atBlock i: Int) { pendingGradients[i] = g }

    public func flops(kept: Int?) -> (forward: Double, patchEmbedding: Double) {
        ViTEncoder.flops(config, prefixTokens: prefixTokens, kept: kept)
    }

    /// Matmul FLOPs per image of the forward pass (1 multiply-add = 2 FLOPs): the patch
    /// embedding on all L patches, then every block on prefix + kept tokens.
    public static func flops(_ c: ViTConfig, prefixTokens: Int, kept: Int?) -> (forward: Double, patchEmbedding: Double) {
        let L = Double(c.tokens), S = Double(prefixTokens + (kept ?? c.tokens))
        let patch = 2 * L * Double(c.dim * c.channels * c.patchSize * c.patchSize)
        let blocks = Double(c.depth) * blockFlops(tokens: S, dim: Double(c.dim), hidden: Double(c.mlpHidden))
        return (patch + blocks, patch)
    }

    /// One pre-norm block on S tokens: qkv, proj, fc1, fc2, and the two attention products
    /// (q·kᵀ and p·v, S²·D multiply-adds each).
    public static func blockFlops(tokens S: Double, dim D: Double, hidden H: Double) -> Double {
        2 * S * (3 * D * D + D * D + 2 * D * H) + 4 * S * S * D
    }

    /// Forward and training-step FLOPs per image; a step is 3 × the forward (each product's
    /// input and weight gradients), less the patch embedding's input gradient.
    public static func flopsPerImage(_ c: ViTConfig, options: ViTOptions, kept: Int? = nil) -> FlopCount {
        let f = flops(c, prefixTokens: options.classToken ? 1 : 0, kept: kept)
        return FlopCount(forward: f.forward, train: 3 * f.forward - f.patchEmbedding)
    }

    /// Output of block i, for comparisons (`act.block.i`).
    public func blockOutput(_ i: Int) -> Tensor { blocks[i].output }
}
