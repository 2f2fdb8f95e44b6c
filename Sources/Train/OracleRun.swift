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
            let mae = format == MAEOracleCase.format
            var outputs = mae ? try MAEOracleCase(path: path).run(steps: steps) : try MaskAlignOracleCase(path: path).run(steps: steps)
            result = SafetensorsFile(metadata: try SafetensorsFile(contentsOf: path).metadata)
            for name in mae ? MAEOracleCase.integerOutputs : MaskAlignOracleCase.integerOutputs {
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
