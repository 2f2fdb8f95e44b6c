import Foundation
import MIM
import NN
import Tensor

/// `pretrained: <run id | path>`: the run probes and fine-tunes the model an earlier run
/// pre-trained instead of pre-training its own, so a fine-tuning recipe, a label budget or
/// the fine-tuning seed can be swept over one pre-trained encoder at the cost of the
/// fine-tuning alone (and the seed spread of fine-tuning told apart from pre-training's).
///
/// The config must still say how its encoder was made: every key that shapes pre-training
/// (data, encoder, mask, head, target, method and its section, pretrain) equals the source
/// run's. What may differ is what comes after (finetune, linprobe, seed) and, for the
/// synthetic data whose splits are drawn independently, the labelled and test split sizes.
/// The source's identity (`run:<id>` or `sha256:` of the file) is part of the run id.
public enum PretrainedCheckpoint {
    static let field = "pretrained"
    /// Top-level keys of the canonical config that need not match the source run's.
    static let afterPretraining: Set<String> = ["finetune", "linprobe", "seed", "pretrained"]
    /// Synthetic splits are drawn from `PRNG(seed).fork(split)`, so these sizes leave the
    /// pre-training pool as it was.
    static let splitSizes: Set<String> = ["finetune_size", "test_size"]

    /// Reads the key (after every other section, so the config to compare is complete).
    static func read(_ r: ConfigReader, into c: inout RunConfig) throws {
        let origin = r.origin(field)
        let raw = try r.string(field, "")
        guard !raw.isEmpty else {
            throw ConfigError("\(origin): pretrained needs a run id (16 hex digits, under runs/) or the path of a run's pretrain.safetensors")
        }
        guard c.pretrain.epochs > 0 else {
            throw ConfigError("\(origin): pretrained = \(raw) names a pre-trained model, but pretrain.epochs = 0 is the random-init baseline; set the source run's pretrain section")
        }
        let ref = CheckpointReference(raw, runs: "runs", field: field)
        do {
            // By run id a source not made yet is checked when the run starts.
            if ref.runID == nil || ref.exists {
                let file = try ref.open()
                try ref.checkRunConfig(file.metadata["config"])
                try check(file, path: ref.path, against: c)
            }
            c.pretrained = try ref.identity()
        } catch let e as ConfigError { throw ConfigError("\(origin): \(e)") }
        c.pretrainedPath = ref.path
    }

    /// Loads the source's parameters into `model` (built from the same config), after
    /// checking that the file is still the one the run id names.
    public static func load(into model: any PretrainMethod, config: RunConfig) throws {
        guard let identity = config.pretrained else { return }
        guard let path = config.pretrainedPath else {
            throw ConfigError("pretrained = \(identity): the run config does not say where the checkpoint is")
        }
        let file = try CheckpointReference.open(path, field: field)
        if identity.hasPrefix("run:") {
            try CheckpointReference(String(identity.dropFirst(4)), runs: "", field: field).checkRunConfig(file.metadata["config"])
        } else if let bytes = FileManager.default.contents(atPath: path), "sha256:" + SHA256.hex(Array(bytes)) != identity {
            throw ConfigError("\(path): changed since the config named it (pretrained = \(identity))")
        }
        try check(file, path: path, against: config)
        do { _ = try model.load(file.tensors) } catch { throw ConfigError("\(path): \(error) (pretrained)") }
    }

    /// The first pre-training key where the run's config and the checkpoint's differ.
    static func check(_ file: SafetensorsFile, path: String, against c: RunConfig) throws {
        guard let json = file.metadata["config"], var source = object(json) else {
            throw ConfigError("\(path): metadata 'config': missing; only a mimlab run's pretrain.safetensors records how it was pre-trained")
        }
        guard var run = object(c.canonicalJSON()) else { return }
        for k in afterPretraining { source[k] = nil; run[k] = nil }
        if (run["data"] as? [String: Any])?["dataset"] as? String == "synthetic" {
            for k in splitSizes { source = removing(k, in: "data", source); run = removing(k, in: "data", run) }
        }
        if let (key, theirs, ours) = firstDifference(source, run, path: "") {
            throw ConfigError("\(path): the checkpoint was pre-trained with \(key) = \(theirs), this config has \(ours); a run that starts from it must share every pre-training setting (only finetune, linprobe, seed and the split sizes may differ)")
        }
    }

    private static func object(_ json: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
    }

    private static func removing(_ key: String, in section: String, _ o: [String: Any]) -> [String: Any] {
        var o = o
        if var s = o[section] as? [String: Any] { s[key] = nil; o[section] = s }
        return o
    }

    private static func firstDifference(_ a: Any?, _ b: Any?, path: String) -> (String, String, String)? {
        if let a = a as? [String: Any], let b = b as? [String: Any] {
            for k in Set(a.keys).union(b.keys).sorted() {
                if let d = firstDifference(a[k], b[k], path: path.isEmpty ? k : path + "." + k) { return d }
            }
            return nil
        }
        let x = text(a), y = text(b)
        return x == y ? nil : (path, x, y)
    }

    private static func text(_ v: Any?) -> String {
        guard let v else { return "(absent)" }
        if let s = v as? String { return s }
        if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(v)"
    }
}
