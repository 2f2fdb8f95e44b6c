import Foundation
import Tensor

/// Swin's shape (timm `SwinTransformer`, SimMIM's `SwinTransformerForSimMIM` without the
/// mask token): patch embedding with LayerNorm (`patch_norm`), an optional absolute
/// position embedding (off, as SimMIM's Swin), stages of `SwinBlock`s (shifted windows on
/// odd blocks) with `PatchMerging` at the start of every stage but the first (timm's
/// layout: `layers.{i}.downsample`, i ≥ 1), and a final LayerNorm over the last stage.
public struct SwinConfig: Codable, Equatable, Sendable {
    public var imageSize = 32
    public var patchSize = 2
    public var channels = 3
    public var embedDim = 32
    public var depths = [2, 2, 6]
    public var heads = [1, 2, 4]
    public var window = 4
    public var mlpRatio: Double = 4
    public var lnEps: Float = 1e-5
    public var absolutePosition = false
    public var dropPath: Float = 0

    public init(imageSize: Int = 32, patchSize: Int = 2, channels: Int = 3, embedDim: Int = 32,
                depths: [Int] = [2, 2, 6], heads: [Int] = [1, 2, 4], window: Int = 4, mlpRatio: Double = 4,
                lnEps: Float = 1e-5, absolutePosition: Bool = false, dropPath: Float = 0) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
        self.embedDim = embedDim; self.depths = depths; self.heads = heads; self.window = window
        self.mlpRatio = mlpRatio; self.lnEps = lnEps; self.absolutePosition = absolutePosition
        self.dropPath = dropPath
    }

    public var stages: Int { depths.count }
    public var grid: Int { imageSize / patchSize }
    public var tokens: Int { grid * grid }
    /// Token grid side of stage i (halved by each merge before it).
    public func grid(ofStage i: Int) -> Int { grid >> i }
    public func dim(ofStage i: Int) -> Int { embedDim << i }
    public var outputDim: Int { dim(ofStage: stages - 1) }
    public var outputGrid: Int { grid(ofStage: stages - 1) }
    /// Pixels per output token side: patch · 2^(stages − 1).
    public var outputStride: Int { patchSize << (stages - 1) }
    public var blockCount: Int { depths.reduce(0, +) }
    public func mlpHidden(ofStage i: Int) -> Int { Int(Double(dim(ofStage: i)) * mlpRatio) }

    /// `swin-micro`, for the tables' 32-px protocol (8-px mask patches). The paper masks
    /// 32-px patches of a 192-px image and predicts from Swin-B's stride-32 map, so each
    /// output token is exactly one mask patch (6×6 of them), and its last stage (6×6,
    /// window 6) is one unshifted window. Here: patch 2 and three stages give stride
    /// 2·2² = 8 = mask.patch, a 4×4 output grid (4×4 mask patches); window 4 shifts by 2 on
    /// the 16×16 and 8×8 grids and is the whole 4×4 last stage, unshifted, as in the paper.
    /// Depths 2-2-6 put most blocks in the third stage as Swin's 2-2-18-2; head width 32 as
    /// Swin's.
    public static let micro = SwinConfig()
    /// The paper's Swin-B at 192 px (window 6): stages 48², 24², 12², 6², stride 32.
    public static let base192 = SwinConfig(imageSize: 192, patchSize: 4, embedDim: 128, depths: [2, 2, 18, 2],
                                           heads: [4, 8, 16, 32], window: 6)
    /// A two-stage model for tests and parity cases.
    public static let nano = SwinConfig(imageSize: 16, patchSize: 2, embedDim: 16, depths: [2, 2], heads: [2, 4],
                                        window: 4)
    public static let presets: [String: SwinConfig] = ["swin-micro": .micro, "swin-base-192": .base192,
                                                       "swin-nano": .nano]

    /// One-line errors naming the field and the valid values.
    public func validate() throws {
        func bad(_ s: String) -> ModelError { .invalidConfig(s) }
        if imageSize <= 0 || patchSize <= 0 || imageSize % patchSize != 0 {
            throw bad("encoder.patch = \(patchSize) must divide data.image_size = \(imageSize)")
        }
        if depths.isEmpty || depths.contains(where: { $0 <= 0 }) {
            throw bad("encoder.depths = \(depths) must be one positive block count per stage")
        }
        if heads.count != depths.count {
            throw bad("encoder.heads = \(heads) must give one head count per stage (\(depths.count) stages)")
        }
        if grid % (1 << (stages - 1)) != 0 {
            throw bad("encoder.depths: \(stages) stages halve the \(grid)×\(grid) token grid \(stages - 1) times; valid stage counts: \((1...8).filter { grid % (1 << ($0 - 1)) == 0 && grid >> ($0 - 1) >= 1 }.map(String.init).joined(separator: ", "))")
        }
        for i in 0..<stages {
            let g = grid(ofStage: i), d = dim(ofStage: i)
            if heads[i] <= 0 || d % heads[i] != 0 {
                throw bad("encoder.heads[\(i)] = \(heads[i]) must divide stage \(i)'s width \(d)")
            }
            if window <= 0 || (g > window && g % window != 0) {
                let valid = (1...g).filter { g % $0 == 0 || $0 >= g }.prefix(12).map(String.init).joined(separator: ", ")
                throw bad("encoder.window = \(window) must divide stage \(i)'s \(g)×\(g) grid (or cover it); valid: \(valid)")
            }
        }
        if mlpRatio <= 0 { throw bad("encoder.mlp_ratio = \(mlpRatio) must be positive") }
        if !(0..<1).contains(dropPath) { throw bad("encoder.drop_path = \(dropPath) must be in [0, 1)") }
    }
}

/// One Swin stage: its downsampling (nil for stage 0) and its blocks.
public final class SwinStage: Module {
    public let downsample: PatchMerging?
    public let blocks: [SwinBlock]

    init(downsample: PatchMerging?, blocks: [SwinBlock]) {
        self.downsample = downsample
        self.blocks = blocks
    }

    public var parameters: [Parameter] { (downsample?.parameters ?? []) + blocks.flatMap(\.parameters) }
}

public final class SwinEncoder: ImageEncoder {
    public let config: SwinConfig
    public let name: String
    public let patchEmbed: PatchEmbed
    /// `patch_embed.norm` (timm's `patch_norm`, on in Swin and SimMIM).
    public let patchNorm: LayerNorm
    /// `absolute_pos_embed` `[1, L, C]`, nil unless `config.absolutePosition`.
    public let absolutePosEmbed: Parameter?
    public let stages: [SwinStage]
    public let norm: LayerNorm

    private let tokens = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var batch = 0
    private var pendingGradients: [Int: Tensor] = [:]

    public init(_ config: SwinConfig, name: String = "encoder") {
        self.config = config
        self.name = name
        let C = config.embedDim, eps = config.lnEps, total = config.blockCount
        // timm's `patch_embed.proj` (a Conv2d) and `patch_embed.norm`.
        patchEmbed = PatchEmbed(name + ".patch_embed.proj", imageSize: config.imageSize, patchSize: config.patchSize,
                                channels: config.channels, dim: C)
        patchNorm = LayerNorm(name + ".patch_embed.norm", dim: C, eps: eps, layerID: 0)
        // The official `get_swin_layer` sends every name it does not know, this one
        // included, to the last depth index.
        absolutePosEmbed = config.absolutePosition
            ? Parameter(name + ".absolute_pos_embed", shape: [1, config.tokens, C], weightDecay: false, layerID: total + 1)
            : nil
        var stages: [SwinStage] = []
        var before = 0
        for i in 0..<config.stages {
            let g = config.grid(ofStage: i), d = config.dim(ofStage: i), stage = "\(name).layers.\(i)"
            // Depth indices as the official `optimizer.py`: block j of stage i is
            // Σ depths[..<i] + j + 1; a merge belongs with the last block before it.
            let merge = i == 0 ? nil : PatchMerging(stage + ".downsample", dim: config.dim(ofStage: i - 1),
                                                    height: 2 * g, width: 2 * g, eps: eps, layerID: before)
            let blocks = (0..<config.depths[i]).map { j in
                SwinBlock("\(stage).blocks.\(j)", dim: d, heads: config.heads[i], height: g, width: g,
                          window: config.window, shift: j % 2 == 0 ? 0 : config.window / 2,
                          mlpHidden: config.mlpHidden(ofStage: i), eps: eps, layerID: before + j + 1)
            }
            stages.append(SwinStage(downsample: merge, blocks: blocks))
            before += config.depths[i]
        }
        self.stages = stages
        norm = LayerNorm(name + ".norm", dim: config.outputDim, eps: eps, layerID: total + 1)
        setDropPath(config.dropPath)
    }

    public var blocks: [SwinBlock] { stages.flatMap(\.blocks) }
    /// The width of `embed`'s rows (the mask token's), stage 0's.
    public var embedDim: Int { config.embedDim }
    /// Output width: the last stage's (what the probe and the fine-tune head see).
    public var dim: Int { config.outputDim }
    public var patchSize: Int { config.patchSize }
    public var outputStride: Int { config.outputStride }
    public var layerCount: Int { config.blockCount }
    /// Patch tokens per image at the input (`embed`'s rows); the output has
    /// `outputTokens`.
    public var tokenCount: Int { config.tokens }
    public var outputTokens: Int { config.outputGrid * config.outputGrid }
    public var prefixTokens: Int { 0 }
    public var patches: Tensor { patchEmbed.patches }

    public func parameters(inserting extra: [Parameter]) -> [Parameter] {
        patchEmbed.parameters + patchNorm.parameters + extra + (absolutePosEmbed.map { [$0] } ?? [])
            + stages.flatMap(\.parameters) + norm.parameters
    }

    public func sameArchitecture() -> any ImageEncoder { SwinEncoder(config, name: name) }

    /// Stochastic depth rising linearly over all blocks from 0 to `rate` (timm's `dpr`).
    public func setDropPath(_ rate: Float) {
        let all = blocks
        for (i, b) in all.enumerated() { b.dropPath = all.count > 1 ? rate * Float(i) / Float(all.count - 1) : rate }
    }

    /// timm / official Swin: truncated normal (std 0.02) on Linear weights, the bias table,
    /// the position embedding and `extra` (SimMIM's mask token); zero Linear biases; unit
    /// LayerNorm gains; the patch embedding's convolution keeps PyTorch's default
    /// (kaiming-uniform with a = √5: weight and bias uniform in ±1/√fan_in).
    public func initialize(_ rng: inout PRNG, with extra: [Parameter]) {
        let patchParams = Set(patchEmbed.parameters.map(\.name))
        let fanIn = Float(config.channels * config.patchSize * config.patchSize)
        for p in parameters(inserting: extra) {
            if patchParams.contains(p.name) {
                let bound = 1 / fanIn.squareRoot()
                for k in 0..<p.count { p.value.data[k] = (2 * rng.uniform() - 1) * bound }
            } else if p.name.hasSuffix(".bias") { p.value.zero() }
            else if p.name.contains("norm") { p.value.fill(1) }
            else { rng.fillTruncatedNormal(p.value, std: 0.02) }
        }
    }

    /// images `[B, C, H, W]` → normalised patch rows `[B·L, embedDim]`.
    public func embed(_ images: Tensor, batch: Int) -> Tensor {
        patchNorm.forward(patchEmbed.forward(images, batch: batch))
    }

    /// Every token (Swin cannot drop tokens: `keep` must be nil). Returns the last stage's
    /// normalised tokens `[B·outputTokens, dim]`, row-major on its grid.
    @discardableResult
    public func encode(_ x: Tensor, batch: Int, keep: [Int32]?, rng: inout PRNG?) -> Tensor {
        precondition(keep == nil, "SwinEncoder: windowed attention needs every token (keep must be nil)")
        let L = config.tokens, C = config.embedDim
        precondition(x.count == batch * L * C, "SwinEncoder: input \(x.shape), expected [\(batch * L), \(C)]")
        self.batch = batch
        tokens.resize([batch * L, C])
        tokens.copy(from: x)
        if let pos = absolutePosEmbed {
            for b in 0..<batch { Kernels.add(pos.value.data, into: tokens.data + b * L * C, L * C) }
        }
        var h = tokens
        for s in stages {
            if let m = s.downsample { h = m.forward(h, batch: batch) }
            for blk in s.blocks { h = blk.forward(h, batch: batch, rng: &rng) }
        }
        return norm.forward(h)
    }

    public func backward(_ dz: Tensor) -> Tensor {
        var g = norm.backward(dz)
        var i = layerCount
        for s in stages.reversed() {
            for blk in s.blocks.reversed() {
                i -= 1
                if let extra = pendingGradients[i] {
                    precondition(extra.count == g.count, "addGradient: block \(i) gradient \(extra.shape), expected \(g.shape)")
                    Kernels.add(extra.data, into: g.data, g.count)
                }
                g = blk.backward(g)
            }
            if let m = s.downsample { g = m.backward(g) }
        }
        pendingGradients = [:]
        if let pos = absolutePosEmbed {
            let n = config.tokens * config.embedDim
            for b in 0..<batch { Kernels.add(g.data + b * n, into: pos.grad.data, n) }
        }
        gradInput.resize(g.shape)
        gradInput.copy(from: g)
        return gradInput
    }

    public func backwardEmbedding(_ dx: Tensor) { patchEmbed.backward(patchNorm.backward(dx)) }

    /// Output of block i (over all stages), `[B·(its stage's tokens), its stage's width]`.
    public func features(ofBlock i: Int) -> Tensor { blocks[i].output }

    public func addGradient(_ g: Tensor, atBlock i: Int) { pendingGradients[i] = g }

    public func flops(kept: Int?) -> (forward: Double, patchEmbedding: Double) { SwinEncoder.flops(config) }

    /// Matmul FLOPs per image of the forward pass: patch embedding, every merge's reduction,
    /// every block's window attention (per window) and MLP.
    public static func flops(_ c: SwinConfig) -> (forward: Double, patchEmbedding: Double) {
        let patch = 2 * Double(c.tokens) * Double(c.embedDim * c.channels * c.patchSize * c.patchSize)
        var total = patch
        for i in 0..<c.stages {
            let g = c.grid(ofStage: i), L = Double(g * g), d = Double(c.dim(ofStage: i))
            if i > 0 { total += PatchMerging.flops(outputTokens: L, dim: Double(c.dim(ofStage: i - 1))) }
            let w = min(g, c.window), N = Double(w * w)
            total += Double(c.depths[i]) * SwinBlock.flops(tokens: L, tokensPerWindow: N, dim: d,
                                                           hidden: Double(c.mlpHidden(ofStage: i)))
        }
        return (total, patch)
    }

    /// Forward and training-step FLOPs per image (a step: 3 × forward less the patch
    /// embedding's input gradient).
    public static func flopsPerImage(_ c: SwinConfig) -> FlopCount {
        let f = flops(c)
        return FlopCount(forward: f.forward, train: 3 * f.forward - f.patchEmbedding)
    }
}
