import Foundation
import NN
import Tensor

/// `mimlab step`'s work: runs a case file of either oracle (by its `format` metadata:
/// SimMIM's `simmim-oracle-v1`, MAE's `mae-oracle-v1`, MaskAlign's `maskalign-oracle-v1`, SimMIM on Swin's
/// `simmim-swin-oracle-v1`) and returns what to write, under the
/// reference's names (its integer outputs as integers).
public enum OracleRun {
    public static func run(path: String, steps: Bool = true, finetune: Bool = true) throws -> SafetensorsFile {
        let format = try SafetensorsFile(contentsOf: path).metadata["format"]
        var result: SafetensorsFile
        if format == MAEOracleCase.format || format == MaskAlignOracleCase.format {
            var outputs: [String: Tensor]
            let integers: Set<String>
            if format == MAEOracleCase.format {
                let c = try MAEOracleCase(path: path)
                (outputs, integers) = (try c.run(steps: steps), MAEOracleCase.integerOutputs)
                result = SafetensorsFile(metadata: c.file.metadata)
            } else {
                let c = try MaskAlignOracleCase(path: path)
                (outputs, integers) = (try c.run(steps: steps), MaskAlignOracleCase.integerOutputs)
                result = SafetensorsFile(metadata: c.file.metadata)
            }
            for name in integers {
                if let t = outputs.removeValue(forKey: name) { result.integers[name] = (t.shape, t.array.map { Int32($0) }) }
            }
            result.tensors = outputs
        } else if format == SwinOracleCase.format {
            let c = try SwinOracleCase(path: path)
            result = SafetensorsFile(tensors: try c.run(steps: steps, finetune: finetune), metadata: c.file.metadata)
        } else {
            let c = try OracleCase(path: path)
            result = SafetensorsFile(tensors: try c.run(steps: steps, finetune: finetune), metadata: c.file.metadata)
        }
        result.metadata["compute_dtype"] = "float32"
        result.metadata["implementation"] = "mimlab"
        return result
    }
}
