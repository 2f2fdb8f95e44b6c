import Foundation
import MIM
import NN
import Tensor

/// Everything pre-training (any `PretrainMethod`) carries from one step to the next, after `step` optimiser
/// steps, as one safetensors file; restoring it and running on gives the same numbers, bit
/// for bit, as never having stopped.
///
/// What is *not* saved, because it is a pure function of the config and the step: the batch
/// (`BatchSource.fill(epoch:index:)`), the lr (the schedule), the method's masks (drawn
/// afresh every step; all their randomness is the mask PRNG), the per-epoch losses and
/// the partial epoch's sum (both re-summed, in the same order, from the per-step losses).
///
/// Tensors: `model.<name>` (parameters), `optimizer.exp_avg.<name>`,
/// `optimizer.exp_avg_sq.<name>` (AdamW moments). Metadata: `format`, `config` (canonical
/// JSON of the run), `step`, `total_steps`, `optimizer_step`, `mask_rng` (`PRNG.State`),
/// `seconds` (across attempts), `losses` (per step, a JSON array of shortest round-trip
/// decimals, so every Double comes back exactly) and `checksum` over all of it, which is
/// what catches a file damaged inside its data rather than cut short.
struct PretrainState {
    static let format = "mimlab-pretrain-state-v1"

    var config: String
    var step: Int
    var totalSteps: Int
    var seconds: Double
    var losses: [Double]
    var maskRNG: PRNG.State
    var parameters: [String: Tensor]
    var moments: [String: Tensor]
    var optimizerStep: Int

    func write(to path: String) throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in parameters { tensors["model." + k] = t }
        for (k, t) in moments { tensors["optimizer." + k] = t }
        var meta = [
            "format": Self.format, "config": config, "step": String(step), "total_steps": String(totalSteps),
            "optimizer_step": String(optimizerStep), "mask_rng": maskRNG.description, "seconds": "\(seconds)",
            "losses": "[" + losses.map { "\($0)" }.joined(separator: ",") + "]",
        ]
        meta["checksum"] = Self.checksum(meta, tensors)
        try SafetensorsFile(tensors: tensors, metadata: meta).write(to: path)
    }

    enum Reading {
        case missing
        case unusable(String)
        case usable(PretrainState)
    }

    /// The state at `path` if it continues this run: same format, config and step count,
    /// intact, and shaped like `model`. Never throws: a file that cannot be used is a reason.
    static func read(_ path: String, config: String, totalSteps: Int, model: any PretrainMethod) -> Reading {
        guard FileManager.default.fileExists(atPath: path) else { return .missing }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: path) } catch { return .unusable("\(error)") }
        let meta = file.metadata
        guard meta["format"] == format else { return .unusable("format \(meta["format"] ?? "none"), expected \(format)") }
        guard meta["config"] == config else { return .unusable("written for another run config") }
        var tensors = file.tensors
        // Integer tensors are not part of this format; `tensors` holds them too, as Floats.
        for k in file.integers.keys { tensors[k] = nil }
        guard meta["checksum"] == checksum(meta, tensors) else { return .unusable("checksum mismatch (damaged file)") }
        guard let total = meta["total_steps"].flatMap(Int.init), total == totalSteps else {
            return .unusable("total_steps \(meta["total_steps"] ?? "none"), expected \(totalSteps)")
        }
        guard let step = meta["step"].flatMap(Int.init), (1...total).contains(step),
              let optStep = meta["optimizer_step"].flatMap(Int.init), optStep == step,
              let rng = meta["mask_rng"].flatMap(PRNG.State.init),
              let seconds = meta["seconds"].flatMap(Double.init), seconds.isFinite, seconds >= 0,
              let losses = meta["losses"].flatMap(parseLosses), losses.count == step else {
            return .unusable("metadata is incomplete or inconsistent")
        }
        var params: [String: Tensor] = [:], moments: [String: Tensor] = [:]
        for p in model.parameters {
            for (key, name) in [("model." + p.name, p.name), ("optimizer.exp_avg." + p.name, "exp_avg." + p.name),
                                ("optimizer.exp_avg_sq." + p.name, "exp_avg_sq." + p.name)] {
                guard let t = tensors[key] else { return .unusable("no tensor \(key)") }
                guard t.shape == p.value.shape else { return .unusable("\(key) has shape \(t.shape), expected \(p.value.shape)") }
                if key.hasPrefix("model.") { params[name] = t } else { moments[name] = t }
            }
        }
        return .usable(PretrainState(config: config, step: step, totalSteps: total, seconds: seconds, losses: losses,
                                     maskRNG: rng, parameters: params, moments: moments, optimizerStep: optStep))
    }

    /// Puts the saved parameters and moments in place (`read` has checked that they fit).
    func restore(into model: any PretrainMethod, optimizer: AdamW) throws {
        try model.load(parameters)
        try optimizer.loadState(moments, step: optimizerStep)
    }

    private static func parseLosses(_ s: String) -> [Double]? {
        guard s.hasPrefix("["), s.hasSuffix("]") else { return nil }
        let body = s.dropFirst().dropLast()
        if body.isEmpty { return [] }
        var out: [Double] = []
        for f in body.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Double(f), v.isFinite else { return nil }
            out.append(v)
        }
        return out
    }

    /// FNV-1a (64-bit) over the metadata (sorted, without the checksum) and every tensor
    /// (sorted by name: name, shape, then each value's bit pattern as one word).
    static func checksum(_ meta: [String: String], _ tensors: [String: Tensor]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func word(_ w: UInt64) { h = (h ^ w) &* 0x100_0000_01B3 }
        func text(_ s: String) { for b in s.utf8 { word(UInt64(b)) }; word(0x100) }   // 0x100: no byte, a separator
        for k in meta.keys.sorted() where k != "checksum" { text(k); text(meta[k]!) }
        for k in tensors.keys.sorted() {
            let t = tensors[k]!
            text(k)
            for d in t.shape { word(UInt64(d)) }
            let p = t.data
            for i in 0..<t.count { word(UInt64(p[i].bitPattern)) }
        }
        return String(h, radix: 16)
    }
}
