import Foundation

/// The CIFAR-10 / CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html):
/// CIFAR-10 `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, records of one
/// label byte and 3072 pixel bytes; CIFAR-100 `train.bin` and `test.bin`, records of a
/// coarse and a fine label byte (the fine label is used) and 3072 pixel bytes.
/// mimlab does not download them: point `data.path` at the extracted directory.
public enum CIFAR {
    public enum Variant: String, Sendable, CaseIterable { case cifar10, cifar100 }

    public static func files(_ variant: Variant, train: Bool) -> [String] {
        switch variant {
        case .cifar10: return train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        case .cifar100: return [train ? "train.bin" : "test.bin"]
        }
    }

    public static func load(_ variant: Variant, directory: String, train: Bool) throws -> ImageDataset {
        let files = files(variant, train: train)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("\(directory): no such directory (expected the \(variant.rawValue) binary files \(files.joined(separator: ", ")))")
        }
        let labelBytes = variant == .cifar10 ? 1 : 2
        let record = labelBytes + 3 * 32 * 32
        var bytes: [UInt8] = []
        for f in files {
            let path = (directory as NSString).appendingPathComponent(f)
            guard let d = FileManager.default.contents(atPath: path) else {
                throw DataError("\(path): missing or unreadable (expected the \(variant.rawValue) binary file \(f))")
            }
            guard d.count > 0, d.count % record == 0 else {
                throw DataError("\(path): \(d.count) bytes is not a whole number of \(record)-byte \(variant.rawValue) records (truncated, or not a \(variant.rawValue) binary file)")
            }
            bytes += d
        }
        return try ImageDataset(bytes: bytes, imageSize: 32, channels: 3, numClasses: variant == .cifar10 ? 10 : 100,
                                labelBytes: labelBytes, name: "\(directory) \(variant.rawValue) \(train ? "train" : "test")")
    }

    /// CIFAR-10 training-set channel statistics, the usual normalisation constants.
    public static let cifar10Mean: [Float] = [0.4914, 0.4822, 0.4465]
    public static let cifar10Std: [Float] = [0.2470, 0.2435, 0.2616]
}
