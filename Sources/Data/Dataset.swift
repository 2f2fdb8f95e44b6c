import Foundation

/// Labelled images in the CIFAR binary layout, kept as one contiguous byte buffer: per
/// record `labelBytes` label bytes, then the red, green and blue planes (row-major), so a
/// whole split loads with one read and an image is a fixed-stride slice.
public struct ImageDataset: Sendable {
    public let bytes: [UInt8]
    public let count: Int
    public let imageSize: Int
    public let channels: Int
    public let numClasses: Int
    /// 1 for CIFAR-10 (label), 2 for CIFAR-100 (coarse, fine); the last byte is the label.
    public let labelBytes: Int
    public let name: String

    public var pixelsPerImage: Int { channels * imageSize * imageSize }
    public var recordSize: Int { labelBytes + pixelsPerImage }

    public init(bytes: [UInt8], imageSize: Int, channels: Int = 3, numClasses: Int, labelBytes: Int = 1,
                name: String) throws {
        let record = labelBytes + channels * imageSize * imageSize
        guard bytes.count % record == 0 else {
            throw DataError("\(name): \(bytes.count) bytes is not a whole number of \(record)-byte records")
        }
        self.bytes = bytes
        self.count = bytes.count / record
        self.imageSize = imageSize
        self.channels = channels
        self.numClasses = numClasses
        self.labelBytes = labelBytes
        self.name = name
        for i in 0..<count where Int(bytes[i * record + labelBytes - 1]) >= numClasses {
            throw DataError("\(name): record \(i) has label \(bytes[i * record + labelBytes - 1]); valid labels are 0..<\(numClasses)")
        }
    }

    public func label(_ i: Int) -> Int { Int(bytes[i * recordSize + labelBytes - 1]) }

    /// The CHW pixel bytes of image i.
    @inline(__always)
    public func withPixels<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) -> R) -> R {
        bytes.withUnsafeBufferPointer { body($0.baseAddress! + i * recordSize + labelBytes) }
    }

    /// Per-channel mean and standard deviation of the pixels in [0, 1].
    public func channelStatistics() -> (mean: [Float], std: [Float]) {
        let hw = imageSize * imageSize
        var s = [Double](repeating: 0, count: channels), ss = s
        for i in 0..<count {
            withPixels(i) { p in
                for c in 0..<channels {
                    var a = 0, b = 0
                    for k in 0..<hw { let v = Int(p[c * hw + k]); a += v; b += v * v }
                    s[c] += Double(a); ss[c] += Double(b)
                }
            }
        }
        let n = Double(count * hw)
        let mean = s.map { $0 / n / 255 }
        let std = zip(ss, mean).map { (($0 / n / 65025) - $1 * $1).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// The first `n` images (for label budgets).
    public func prefix(_ n: Int) throws -> ImageDataset {
        let k = min(n, count)
        return try ImageDataset(bytes: Array(bytes[0..<(k * recordSize)]), imageSize: imageSize, channels: channels,
                                numClasses: numClasses, labelBytes: labelBytes, name: "\(name)[0..<\(k)]")
    }
}

public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Temp file + rename, so a reader never sees half a file under the final name.
enum AtomicWrite {
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try data.write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: tmp)
            throw DataError("\(path): cannot rename temp file: \(String(cString: strerror(errno)))")
        }
    }
}
