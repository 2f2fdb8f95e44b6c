import Foundation
import Tensor

/// The procedural dataset's three splits, generated once and cached on disk in the
/// CIFAR-10 binary layout (so a cached split is also readable as a CIFAR-style file).
///
/// Image i of a split is drawn from `PRNG(seed).fork(split).fork(i)`: the splits are
/// disjoint streams, and an image depends neither on the thread count nor on how many
/// images are generated. Labels cycle (image i has class i mod K), so every prefix of a
/// split, and hence every label budget, is balanced; loaders shuffle.
public struct SyntheticDataset: Sendable {
    public enum Split: String, CaseIterable, Sendable { case pool, finetune, test }

    public let spec: SyntheticSpec
    public let pool: ImageDataset
    public let finetune: ImageDataset
    public let test: ImageDataset

    public init(_ spec: SyntheticSpec, cacheDir: String? = SyntheticDataset.defaultCacheDir()) throws {
        self.spec = spec
        pool = try SyntheticDataset.dataset(spec, split: .pool, count: spec.poolSize, cacheDir: cacheDir)
        finetune = try SyntheticDataset.dataset(spec, split: .finetune, count: spec.finetuneSize, cacheDir: cacheDir)
        test = try SyntheticDataset.dataset(spec, split: .test, count: spec.testSize, cacheDir: cacheDir)
    }

    public subscript(split: Split) -> ImageDataset {
        switch split {
        case .pool: return pool
        case .finetune: return finetune
        case .test: return test
        }
    }

    /// `$MIMLAB_CACHE`, else `.cache/mimlab` under the working directory.
    public static func defaultCacheDir() -> String {
        if let d = ProcessInfo.processInfo.environment["MIMLAB_CACHE"], !d.isEmpty { return d }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(".cache/mimlab")
    }

    /// `count` images of a split: read from `cacheDir` when a complete file is there, else
    /// generated and written there (nil: no cache).
    public static func dataset(_ spec: SyntheticSpec, split: Split, count: Int, cacheDir: String?) throws -> ImageDataset {
        try spec.validate()
        let record = 1 + 3 * spec.imageSize * spec.imageSize
        guard let dir = cacheDir else {
            return try ImageDataset(bytes: generate(spec, split: split, count: count), imageSize: spec.imageSize,
                                    numClasses: spec.classes, name: "synthetic \(split.rawValue)")
        }
        let path = (dir as NSString).appendingPathComponent(spec.cacheFileName(split, count: count))
        // A file of the wrong size (a truncated copy, a full disk) is regenerated, never trusted.
        if let d = FileManager.default.contents(atPath: path), d.count == record * count {
            return try ImageDataset(bytes: [UInt8](d), imageSize: spec.imageSize, numClasses: spec.classes, name: path)
        }
        let bytes = generate(spec, split: split, count: count)
        try AtomicWrite.write(Data(bytes), to: path)
        return try ImageDataset(bytes: bytes, imageSize: spec.imageSize, numClasses: spec.classes, name: path)
    }

    /// The CIFAR-10-layout bytes of images 0..<count of a split (no cache).
    public static func generate(_ spec: SyntheticSpec, split: Split, count: Int) -> [UInt8] {
        let S = spec.imageSize, record = 1 + 3 * S * S, K = spec.classes
        var out = [UInt8](repeating: 0, count: record * count)
        let base = PRNG(seed: spec.seed).fork(split.rawValue)
        out.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            Parallel.forEach(count, minPerChunk: 32) { i in
                var rng = base.fork(i)
                let label = i % K
                p[i * record] = UInt8(label)
                SyntheticRenderer.draw(label: label, size: S, rng: &rng, into: p + i * record + 1)
            }
        }
        return out
    }
}

/// The name the training code uses for the generator (`Synthetic.dataset`, `Synthetic.Split`).
public typealias Synthetic = SyntheticDataset
