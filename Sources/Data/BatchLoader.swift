import Foundation
import Tensor

/// Deterministic shuffling and batching. Epoch e visits the images in the order of
/// `PRNG(seed).fork(e).permutation(count)`; the image at position p of that order is
/// augmented with `PRNG(seed).fork(e).fork(p)`. So batch k of epoch e is a pure function of
/// (seed, e, k): independent of the thread count and of which batches were drawn before,
/// and a run can resume mid-epoch.
public struct BatchLoader: Sendable {
    public let dataset: any Dataset
    public let batchSize: Int
    public let augmentation: Augmentation
    public let seed: UInt64
    /// Skip the last, short batch (training); never leaves an epoch empty.
    public let dropLast: Bool

    public init(_ dataset: any Dataset, batchSize: Int, augmentation: Augmentation, seed: UInt64, dropLast: Bool = true) {
        precondition(batchSize > 0, "batch size must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.augmentation = augmentation
        self.seed = seed
        self.dropLast = dropLast
    }

    /// With `dropLast`, a dataset smaller than one batch still gives one (short) batch.
    public var batchesPerEpoch: Int {
        dropLast ? max(1, dataset.count / batchSize) : (dataset.count + batchSize - 1) / batchSize
    }

    public func order(epoch: Int) -> [Int] {
        var r = PRNG(seed: seed).fork(epoch)
        return r.permutation(dataset.count)
    }

    /// The dataset indices of batch `index` of `epoch`.
    public func indices(epoch: Int, index: Int) -> [Int] {
        let order = order(epoch: epoch)
        let lo = min(index * batchSize, order.count), hi = min(lo + batchSize, order.count)
        return Array(order[lo..<hi])
    }

    /// Resizes `images` to `[B, C, H, W]`, fills it with batch `index` of `epoch` and
    /// returns the labels.
    public func fill(epoch: Int, index: Int, images: Tensor) -> [Int32] {
        let idx = indices(epoch: epoch, index: index)
        let lo = index * batchSize
        let ds = dataset, aug = augmentation
        let per = ds.pixelsPerImage, out = images
        images.resize([idx.count, ds.channels, ds.imageSize, ds.imageSize])
        let base = PRNG(seed: seed).fork(epoch)
        Parallel.forEach(idx.count, minPerChunk: 8) { j in
            var r = base.fork(lo + j)
            aug.apply(ds, idx[j], rng: &r, into: out.data + j * per)
        }
        return idx.map { Int32(ds.label(at: $0)) }
    }

    /// Images `start ..< start + n` in dataset order, normalised, without augmentation
    /// (evaluation, feature extraction).
    public static func fillPlain(_ ds: any Dataset, start: Int, count n: Int, mean: [Float], std: [Float],
                                 images: Tensor) -> [Int32] {
        precondition(start >= 0 && start + n <= ds.count, "images \(start)..<\(start + n) out of 0..<\(ds.count)")
        let per = ds.pixelsPerImage, out = images
        images.resize([n, ds.channels, ds.imageSize, ds.imageSize])
        let aug = Augmentation.none(mean: mean, std: std)
        Parallel.forEach(n, minPerChunk: 8) { j in
            var r = PRNG(seed: 0)   // unused: no random step
            aug.apply(ds, start + j, rng: &r, into: out.data + j * per)
        }
        return (start..<(start + n)).map { Int32(ds.label(at: $0)) }
    }
}
