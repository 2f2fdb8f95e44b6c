import Foundation
import NN
import Tensor

/// What every oracle case file (SimMIM on a ViT or on Swin, MAE, MaskAlign) carries the same
/// way: its path, the safetensors file, the `config` metadata each case reads its model
/// from, the AdamW settings of `optim`, the `no_decay` list, and the inputs it must hold.
public struct OracleCaseFile {
    public let path: String
    public let file: SafetensorsFile
    /// The `config` metadata (timm's or the official code's names), for the case to read.
    let config: [String: Any]
    public let optim: OracleCase.Optim
    public let noDecay: Set<String>?

    /// `beta2` is the method's default (SimMIM 0.999, MAE and MaskAlign 0.95); `inputs` the
    /// tensors the case cannot run without.
    init(path: String, beta2: Float, inputs: [String]) throws {
        self.path = path
        file = try SafetensorsFile(contentsOf: path)
        config = try OracleCase.json(file, "config", path)
        optim = try OracleCase.Optim(try OracleCase.json(file, "optim", path), beta2: beta2, path: path)
        if let s = file.metadata["no_decay"] {
            guard let list = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String] else {
                throw OracleError("\(path): metadata 'no_decay' is not a JSON list of names")
            }
            noDecay = Set(list)
        } else {
            noDecay = nil
        }
        for name in inputs where file.tensors[name] == nil {
            throw OracleError("\(path): missing tensor '\(name)'")
        }
    }
}

/// A case read from an `OracleCaseFile`: its parts under the names the cases' code uses.
protocol OracleCaseFileBacked {
    var source: OracleCaseFile { get }
}

extension OracleCaseFileBacked {
    public var path: String { source.path }
    public var file: SafetensorsFile { source.file }
    public var optim: OracleCase.Optim { source.optim }
    public var noDecay: Set<String>? { source.noDecay }
    public var batch: Int { file.tensors["input.images"]!.shape.first ?? 0 }
}
