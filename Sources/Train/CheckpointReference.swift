import Foundation
import NN
import Tensor

/// A checkpoint a config names: by run id (16 hex digits, found as
/// `<runs>/<id>/pretrain.safetensors`, the layout of `mimlab run --out` and of a sweep's
/// `--keep-runs`) or by the path of a checkpoint or of a run directory. Its identity is what
/// a run id sees of it: `run:<id>` needs no file, so a sweep can be planned before the run
/// that makes the checkpoint has finished; by path it is `sha256:` of the file's bytes.
public struct CheckpointReference {
    /// The config key that named it, for messages (`maskalign.teacher`, `pretrained`).
    public let field: String
    /// Lowercased, when named by run id.
    public let runID: String?
    /// The `.safetensors` file, absolute.
    public let path: String

    public init(_ raw: String, runs: String, field: String) {
        self.field = field
        let byRunID = raw.count == 16 && raw.allSatisfy(\.isHexDigit)
        var path = byRunID ? (runs as NSString).appendingPathComponent("\(raw)/pretrain.safetensors") : raw
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            path = (path as NSString).appendingPathComponent("pretrain.safetensors")
        }
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        runID = byRunID ? raw.lowercased() : nil
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// `run:<id>`, or `sha256:<hex>` of the file (which must then be readable).
    public func identity() throws -> String {
        if let runID { return "run:" + runID }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): not readable (\(field))")
        }
        return "sha256:" + SHA256.hex(Array(bytes))
    }

    /// The file, which must exist and parse.
    public func open() throws -> SafetensorsFile { try Self.open(path, field: field) }

    public static func open(_ path: String, field: String) throws -> SafetensorsFile {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigError("\(path): no such file (\(field))") }
        do { return try SafetensorsFile(contentsOf: path) } catch {
            throw ConfigError("\(path): not a readable safetensors checkpoint (\(field)): \(error)")
        }
    }

    /// Named by run id, the file must hold that run's config (its metadata `config` hashes
    /// to the id): a directory reused for another run would otherwise pass unnoticed.
    public func checkRunConfig(_ json: String?) throws {
        guard let runID else { return }
        guard let json, String(SHA256.hex(Array(json.utf8)).prefix(16)) == runID else {
            throw ConfigError("\(path): metadata 'config': not the config of run \(runID)")
        }
    }
}
