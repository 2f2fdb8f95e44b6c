import Foundation
import MIM
import NN
import Tensor

/// A ViT teacher from a checkpoint file: a mimlab run's `pretrain.safetensors` (names
/// `encoder.*`, the run config in its metadata), or a timm-style ViT (`patch_embed.proj.*`,
/// `blocks.<i>.*`, `norm.*`, optional `cls_token`, `pos_embed` `[1, (1 +) L, D]`), which
/// is how a DINO or CLIP ViT converted to that layout arrives; timm files do not record
/// their heads, so the metadata must (`num_heads`; `ln_eps` optional, default 1e-6).
/// Every error is one line naming the file and the field.
public struct TeacherCheckpoint {
    public let path: String
    public let encoder: ViTEncoder
    /// The run config's canonical JSON, for a mimlab checkpoint.
    public let runConfig: String?

    public init(path: String, imageSize: Int) throws {
        let file = try CheckpointReference.open(path, field: "maskalign.teacher")
        try self.init(file, path: path, prefix: "", imageSize: imageSize)
    }

    /// `prefix`: the names' prefix in the file (an oracle case keeps its teacher under `teacher.`).
    public init(_ file: SafetensorsFile, path: String, prefix: String, imageSize: Int) throws {
        self.path = path
        func fail(_ field: String, _ why: String) -> ConfigError { ConfigError("\(path): \(field): \(why)") }
        let t = file.tensors
        // mimlab's own names, or timm's: the name map is MaskAlign's (= MAE's) official one.
        let mimlab = t[prefix + "encoder.patch_embed.weight"] != nil
        func stored(_ ours: String) -> String { prefix + (mimlab ? ours : MaskAlign.officialName(ours)) }
        guard let pw = t[stored("encoder.patch_embed.weight")] else {
            throw fail(prefix + "patch_embed.proj.weight", "missing: not a ViT checkpoint (neither timm's nor mimlab's names)")
        }
        guard pw.shape.count == 4, pw.shape[2] == pw.shape[3] else {
            throw fail(stored("encoder.patch_embed.weight"), "shape \(pw.shape), expected [dim, channels, patch, patch]")
        }
        let dim = pw.shape[0], channels = pw.shape[1], patch = pw.shape[2]
        var depth = 0
        while t[stored("encoder.blocks.\(depth).norm1.weight")] != nil { depth += 1 }
        guard depth > 0, let fc1 = t[stored("encoder.blocks.0.mlp.fc1.weight")], fc1.shape.count == 2 else {
            throw fail(stored("encoder.blocks.0.mlp.fc1.weight"), "missing: a ViT teacher needs its blocks")
        }
        runConfig = file.metadata["config"]
        var heads: Int?, eps: Float = 1e-6
        if let json = runConfig {
            let c: RunConfig
            do { c = try RunConfig.decode(canonicalJSON: json) } catch { throw fail("metadata 'config'", "not a mimlab run config: \(error)") }
            heads = c.encoder.vit.heads
            eps = c.encoder.vit.lnEps
        } else {
            heads = file.metadata["num_heads"].flatMap { Int($0) }
            if let e = file.metadata["ln_eps"] {
                guard let v = Float(e), v > 0 else { throw fail("metadata 'ln_eps'", "'\(e)' is not a positive number") }
                eps = v
            }
        }
        guard let heads, heads > 0, dim % heads == 0 else {
            throw fail("metadata 'num_heads'", "missing or not a divisor of the width \(dim): a timm-style teacher names its attention heads in the safetensors metadata")
        }
        let cls = t[stored("encoder.cls_token")]
        let pos = t[stored("encoder.pos_embed")]
        var grid = imageSize / patch
        var extra = 0
        if let pos {
            func square(_ n: Int) -> Bool { let g = Int(Double(n).squareRoot().rounded()); return n > 0 && g * g == n }
            let total = pos.count / dim
            extra = cls != nil && !square(total) && square(total - 1) ? 1 : 0
            guard total * dim == pos.count, square(total - extra) else {
                throw fail(stored("encoder.pos_embed"), "shape \(pos.shape) is not [1, (1 +) L, \(dim)] for a square grid of L patches")
            }
            grid = Int(Double(total - extra).squareRoot().rounded())
        }
        guard grid * patch == imageSize else {
            throw fail(stored("encoder.pos_embed"), "the teacher sees \(grid * patch)-px images (\(grid)×\(grid) patches of \(patch)); data.image_size is \(imageSize)")
        }
        let config = ViTConfig(imageSize: imageSize, patchSize: patch, channels: channels, dim: dim, depth: depth, heads: heads,
                               mlpRatio: Double(fc1.shape[0]) / Double(dim), lnEps: eps)
        let encoder = ViTEncoder(config, options: ViTOptions(classToken: cls != nil, position: pos == nil ? .sinCos : .learned))
        var byOurName: [String: Tensor] = [:]
        for p in encoder.parameters {
            guard let v = t[stored(p.name)] else { throw fail(stored(p.name), "missing") }
            guard v.count == p.count || p === encoder.posEmbed else {
                throw fail(stored(p.name), "shape \(v.shape), the teacher's width \(dim) needs \(p.value.shape)")
            }
            byOurName[p.name] = v
        }
        // timm adds the position to [class token; patches]: the class token's row is folded
        // into the token, the rest is mimlab's patch position table.
        if let pos, let posParam = encoder.posEmbed {
            let L = grid * grid
            byOurName[posParam.name] = Tensor(shape: [1, L, dim], values: Array(pos.array[(extra * dim)...]))
            if extra == 1, let c = cls {
                let folded = zip(c.array, pos.array[0..<dim]).map { $0 + $1 }
                byOurName[encoder.clsToken!.name] = Tensor(shape: [1, 1, dim], values: folded)
            }
        }
        do { try encoder.load(byOurName) } catch { throw fail("tensors", "\(error)") }
        self.encoder = encoder
    }

    public var shape: TeacherShape {
        TeacherShape(dim: encoder.dim, depth: encoder.layerCount, hidden: encoder.config.mlpHidden, classToken: encoder.prefixTokens > 0)
    }
}
