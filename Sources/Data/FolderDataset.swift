import Foundation
import Tensor

/// Some images of a decoded image folder (`FolderCache`), e.g. the pre-train pool or the
/// label budget: indices into the cache, which all subsets share (memory-mapped, read once).
public struct FolderDataset: Dataset {
    public let cache: Data
    /// Cache image of each of this dataset's images.
    public let indices: [Int]
    /// Label of every cache image (the folder's order).
    let labels: [Int]
    public let imageSize: Int
    public let numClasses: Int
    public var channels: Int { 3 }
    public var count: Int { indices.count }

    public init(cache: Data, labels: [Int], indices: [Int], imageSize: Int, numClasses: Int) {
        precondition(cache.count == FolderCache.headerSize + labels.count * 3 * imageSize * imageSize,
                     "cache of \(cache.count) bytes does not hold \(labels.count) images of \(imageSize) px")
        self.cache = cache; self.labels = labels; self.indices = indices
        self.imageSize = imageSize; self.numClasses = numClasses
    }

    public func label(at i: Int) -> Int { labels[indices[i]] }

    @inline(__always)
    public func withPixels<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        let offset = FolderCache.headerSize + indices[i] * pixelsPerImage
        return try cache.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset) }
    }

    /// A class-balanced choice of `n` of this dataset's images (all of them if n ≥ count),
    /// kept in dataset order: classes take turns, each giving its next image in a seeded
    /// order, until n are taken or a class runs out (then the others go on). The label
    /// budget and smaller pools and test sets are drawn this way.
    public func balancedSubset(_ n: Int, seed: PRNG) -> FolderDataset {
        guard n < count else { return self }
        var byClass = [[Int]](repeating: [], count: numClasses)
        for i in 0..<count { byClass[label(at: i)].append(i) }
        for k in 0..<numClasses {
            var r = seed.fork(k)
            let p = r.permutation(byClass[k].count)
            byClass[k] = p.map { byClass[k][$0] }
        }
        var chosen: [Int] = [], round = 0
        while chosen.count < n {
            for k in 0..<numClasses where round < byClass[k].count && chosen.count < n { chosen.append(byClass[k][round]) }
            round += 1
        }
        return FolderDataset(cache: cache, labels: labels, indices: chosen.sorted().map { indices[$0] },
                             imageSize: imageSize, numClasses: numClasses)
    }
}

extension ImageFolder {
    /// The decoded train and val splits (decoding into `cacheDir` first if needed).
    public func load(size: Int, policy: ResizePolicy, cacheDir: String,
                     report: ((FolderCache.Event) -> Void)? = nil) throws -> (train: FolderDataset, val: FolderDataset) {
        let data = try FolderCache.load(self, size: size, policy: policy, cacheDir: cacheDir, report: report)
        let labels = files.map(\.label)
        let train = FolderDataset(cache: data, labels: labels, indices: Array(0..<self.train.count), imageSize: size,
                                  numClasses: classes.count)
        let val = FolderDataset(cache: data, labels: labels, indices: Array(self.train.count..<labels.count),
                                imageSize: size, numClasses: classes.count)
        return (train, val)
    }
}
