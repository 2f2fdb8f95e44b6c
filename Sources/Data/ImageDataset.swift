import Foundation

/// A dataset kept as one contiguous byte buffer in the CIFAR binary layout: per record
/// `labelBytes` label bytes (the last one is the label), then the red, green and blue
/// planes, row-major. A whole split loads with one read and image i is a fixed-stride slice.
public struct ImageDataset: Dataset {
    public let bytes: [UInt8]
    public let count: Int
    public let imageSize: Int
    public let channels: Int
    public let numClasses: Int
    /// 1 for CIFAR-10 (label), 2 for CIFAR-100 (coarse, fine).
    public let labelBytes: Int
    /// Where the bytes came from (a path or a description), for error messages.
    public let name: String

    public var recordSize: Int { labelBytes + channels * imageSize * imageSize }

    public init(bytes: [UInt8], imageSize: Int, channels: Int = 3, numClasses: Int, labelBytes: Int = 1,
                name: String) throws {
        let record = labelBytes + channels * imageSize * imageSize
        guard bytes.count % record == 0 else {
            throw DataError("\(name): \(bytes.count) bytes is not a whole number of \(record)-byte records (\(labelBytes) label byte(s) + \(channels)×\(imageSize)×\(imageSize) pixels)")
        }
        self.bytes = bytes
        self.count = bytes.count / record
        self.imageSize = imageSize
        self.channels = channels
        self.numClasses = numClasses
        self.labelBytes = labelBytes
        self.name = name
        for i in 0..<count where Int(bytes[i * record + labelBytes - 1]) >= numClasses {
            throw DataError("\(name): record \(i) has label \(bytes[i * record + labelBytes - 1]); expected 0..<\(numClasses)")
        }
    }

    public func label(at i: Int) -> Int { Int(bytes[i * recordSize + labelBytes - 1]) }

    /// Same as `label(at:)`.
    public func label(_ i: Int) -> Int { label(at: i) }

    @inline(__always)
    public func withPixels<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        precondition(i >= 0 && i < count, "\(name): image \(i) out of 0..<\(count)")
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress! + i * recordSize + labelBytes) }
    }

    /// The first `n` images (label budgets, smaller test sets).
    public func prefix(_ n: Int) throws -> ImageDataset {
        try slice(0..<min(max(n, 0), count))
    }

    /// Images `range`, as their own dataset.
    public func slice(_ range: Range<Int>) throws -> ImageDataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return try ImageDataset(bytes: Array(bytes[(range.lowerBound * recordSize)..<(range.upperBound * recordSize)]),
                                imageSize: imageSize, channels: channels, numClasses: numClasses,
                                labelBytes: labelBytes, name: "\(name)[\(range.lowerBound)..<\(range.upperBound)]")
    }
}
