import Data
import Foundation
import MIM
import Tensor

extension BatchLoader: BatchSource {
    public var imageShape: (channels: Int, size: Int) { (dataset.channels, dataset.imageSize) }
}

/// A dataset in order, normalised, without augmentation.
public struct PlainSource: EvaluationSource {
    public let dataset: ImageDataset
    public let mean: [Float]
    public let std: [Float]

    public init(_ dataset: ImageDataset, mean: [Float], std: [Float]) {
        self.dataset = dataset; self.mean = mean; self.std = std
    }

    public var count: Int { dataset.count }
    public var imageShape: (channels: Int, size: Int) { (dataset.channels, dataset.imageSize) }

    public func fill(start: Int, count n: Int, images: Tensor) -> [Int32] {
        BatchLoader.fillPlain(dataset, start: start, count: n, mean: mean, std: std, images: images)
    }
}

/// Builds a run's data from its config: the synthetic dataset (generated once, cached) or
/// CIFAR-10/100 binaries; normalisation statistics from the pre-train pool.
public enum RunDataFactory {
    public static func defaultCacheDir() -> String {
        ProcessInfo.processInfo.environment["MIMLAB_CACHE"] ?? ".cache/mimlab"
    }

    public static func make(_ c: RunConfig, cacheDir: String? = nil) throws -> RunData {
        let cache = cacheDir ?? defaultCacheDir()
        let pool: ImageDataset, labelled: ImageDataset, test: ImageDataset
        switch c.data.dataset {
        case "synthetic":
            // The data seed is fixed (not the run seed): seeds vary the run, not the dataset.
            let spec = SyntheticSpec(seed: 0, imageSize: c.data.imageSize, classes: c.data.classes)
            pool = try Synthetic.dataset(spec, split: .pool, count: c.data.poolSize, cacheDir: cache)
            labelled = try Synthetic.dataset(spec, split: .finetune, count: c.data.finetuneSize, cacheDir: cache)
            test = try Synthetic.dataset(spec, split: .test, count: c.data.testSize, cacheDir: cache)
        default:
            let variant: CIFAR.Variant = c.data.dataset == "cifar100" ? .cifar100 : .cifar10
            let train = try CIFAR.load(variant, directory: c.data.path ?? "", train: true)
            if c.data.imageSize != 32 {
                throw DataError("data.image_size = \(c.data.imageSize): \(variant.rawValue) images are 32 px")
            }
            pool = try train.prefix(c.data.poolSize)
            // The label budget is taken from the end of the training set, so it does not
            // coincide with the start of the pool when the pool is a subset.
            let k = min(c.data.finetuneSize, train.count)
            labelled = try ImageDataset(bytes: Array(train.bytes[((train.count - k) * train.recordSize)...]),
                                        imageSize: 32, numClasses: train.numClasses, labelBytes: train.labelBytes,
                                        name: "\(train.name) label budget")
            test = try CIFAR.load(variant, directory: c.data.path ?? "", train: false).prefix(c.data.testSize)
        }
        let (mean, std) = pool.channelStatistics()
        let seed = UInt64(c.seed)
        let cropMin = Float(c.data.cropScaleMin)
        let pretrainAug = Augmentation(cropScale: cropMin...1, flip: c.data.flip, mean: mean, std: std)
        let finetuneAug = Augmentation(cropScale: 0.08 < cropMin ? 0.5...1 : cropMin...1, flip: c.data.flip,
                                       mean: mean, std: std)
        return RunData(
            pretrain: BatchLoader(pool, batchSize: c.pretrain.batch, augmentation: pretrainAug, seed: seed &+ 1),
            finetune: BatchLoader(labelled, batchSize: c.finetune.batch, augmentation: finetuneAug, seed: seed &+ 2),
            probeTrain: PlainSource(labelled, mean: mean, std: std),
            test: PlainSource(test, mean: mean, std: std),
            classes: labelled.numClasses,
            pixels: PixelNormalization(mean: mean, std: std),
            pool: pool)
    }
}
