import Foundation
import MIM
import NN
import Tensor

/// One MAE oracle case (`shared/oracle/mae_ref.py`, README section 7): weights under the
/// official `models_mae.py` names, images and the masking noise in a safetensors file, the
/// model and optimiser settings in its metadata. `run()` computes what the float64
/// reference writes, under its names: loss, prediction, target, per-patch loss, mask and
/// ids, activations, every trainable parameter's gradient, the parameters after N AdamW
/// steps on the same batch and noise.
public struct MAEOracleCase: OracleCaseFileBacked {
    public static let format = "mae-oracle-v1"
    /// Outputs that are integers in the reference (compared exactly).
    public static let integerOutputs: Set<String> = ["output.ids_restore", "output.ids_keep"]

    public let source: OracleCaseFile
    public let config: ViTConfig
    public let mae: MAEConfig
    public let maskRatio: Double

    public init(path: String) throws {
        source = try OracleCaseFile(path: path, beta2: 0.95, inputs: ["input.images", "input.noise"])
        let c = source.config
        func int(_ k: String, _ def: Int, _ r: ClosedRange<Int>) throws -> Int { try OracleCase.bounded(c, k, def, r, path: path) }
        let cfg = try OracleCase.vitConfig(c, path: path, dim: 64, depth: 2)
        let mae = MAEConfig(decoderDepth: try int("decoder_depth", 2, 1...RunConfig.Bounds.depth),
                            decoderWidth: try int("decoder_embed_dim", 32, 1...RunConfig.Bounds.width),
                            decoderHeads: try int("decoder_num_heads", 4, 1...RunConfig.Bounds.heads),
                            normPix: (c["norm_pix_loss"] as? Bool) ?? false)
        maskRatio = (c["mask_ratio"] as? NSNumber)?.doubleValue ?? 0.75
        do { try mae.validate(for: cfg, maskRatio: maskRatio) } catch {
            throw OracleError("\(path): metadata 'config': \(error)")
        }
        config = cfg
        self.mae = mae
    }

    /// The model with the case's weights (official names) and no-decay list.
    public func model() throws -> MAE {
        let model = try MAE(config, mae, maskRatio: maskRatio)
        var byOurName: [String: Tensor] = [:]
        for p in model.parameters {
            let official = MAE.officialName(p.name)
            guard let t = file.tensors[official] else { throw OracleError("\(path): missing tensor '\(official)'") }
            byOurName[p.name] = t
        }
        try model.load(byOurName)
        if let noDecay { for p in model.parameters { p.weightDecay = !noDecay.contains(MAE.officialName(p.name)) } }
        // The fixed tables are recomputed; the case's must be the same (row 0, the class token's, is zero).
        for (name, table) in [("pos_embed", model.encoder.fixedPosition!), ("decoder_pos_embed", model.decoder.position)] {
            guard let t = file.tensors[name], t.count == table.count + table.shape[1] else {
                throw OracleError("\(path): '\(name)' missing or not [1, 1+L, dim]")
            }
            var worst: Float = 0
            for i in 0..<table.count { worst = max(worst, abs(t[table.shape[1] + i] - table[i])) }
            if worst > 1e-6 { throw OracleError("\(path): '\(name)' differs from the 2-D sin-cos table by \(worst)") }
        }
        return model
    }

    public func run(steps withSteps: Bool = true) throws -> [String: Tensor] {
        let B = batch, L = config.tokens, D = config.dim, K = MAEConfig.keptTokens(tokens: L, maskRatio: maskRatio)
        let Dd = mae.decoderWidth, P = config.patchSize * config.patchSize * config.channels
        let images = try OracleCase.images(file, path: path, channels: config.channels, imageSize: config.imageSize)
        let noise = file.tensors["input.noise"]!
        guard noise.count == B * L else { throw OracleError("\(path): input.noise has shape \(noise.shape), expected [\(B), \(L)]") }
        let model = try self.model()
        model.setNoise(noise.array, batch: B)
        var out: [String: Tensor] = [:]
        func shaped(_ t: Tensor, _ shape: [Int]) -> Tensor { let c = t.clone(); c.reshape(shape); return c }

        model.zeroGrad()
        let loss = model.step(images, batch: B)
        let m = model.masking!
        out["output.loss"] = Tensor(scalar: Float(loss))
        out["output.grad_norm"] = Tensor(scalar: Float(model.gradNorm()))
        out["output.pred"] = shaped(model.decoder.output, [B, L, P])
        out["output.target"] = shaped(model.loss.target, [B, L, P])
        out["output.loss_per_patch"] = Tensor(shape: [B, L], values: model.loss.lossPerPatch)
        out["output.mask"] = Tensor(shape: [B, L], values: m.mask)
        out["output.ids_restore"] = Tensor(shape: [B, L], values: m.idsRestore.map(Float.init))
        out["output.ids_keep"] = Tensor(shape: [B, K], values: m.idsKeep.map(Float.init))
        for p in model.parameters { out["grad." + MAE.officialName(p.name)] = p.grad.clone() }

        let enc = model.encoder, dec = model.decoder
        out["act.embed"] = shaped(enc.patchEmbed.proj.output, [B, L, D])
        let visible = Tensor(shape: [B, K, D])
        for b in 0..<B { (visible.data + b * K * D).update(from: enc.tokens.data + (b * (1 + K) + 1) * D, count: K * D) }
        out["act.visible"] = visible
        for i in 0..<config.depth { out["act.block.\(i)"] = shaped(enc.blockOutput(i), [B, 1 + K, D]) }
        out["act.latent"] = shaped(enc.norm.output, [B, 1 + K, D])
        out["act.dec_embed"] = shaped(dec.embed.output, [B, 1 + K, Dd])
        out["act.dec_in"] = shaped(dec.input, [B, 1 + L, Dd])
        for i in 0..<mae.decoderDepth { out["act.dec_block.\(i)"] = shaped(dec.blocks[i].output, [B, 1 + L, Dd]) }
        out["act.dec_norm"] = shaped(dec.norm.output, [B, 1 + L, Dd])

        if withSteps && optim.steps > 0 {
            optim.run(model, into: &out, name: MAE.officialName,
                      forwardBackward: { model.step(images, batch: B) }, forward: { model.forward(images, batch: B) })
        }
        return out
    }
}
