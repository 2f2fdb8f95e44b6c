import Data
import Foundation
import MIM
import Tensor

extension BatchLoader: BatchSource {
    public var imageShape: (channels: Int, size: Int) { (dataset.channels, dataset.imageSize) }
}

/// A dataset in order, normalised, without augmentation.
public struct PlainSource: EvaluationSource {
    public let dataset: any Dataset
    public let mean: [Float]
    public let std: [Float]

    public init(_ dataset: any Dataset, mean: [Float], std: [Float]) {
        self.dataset = dataset; self.mean = mean; self.std = std
    }

    public var count: Int { dataset.count }
    public var imageShape: (channels: Int, size: Int) { (dataset.channels, dataset.imageSize) }

    public func fill(start: Int, count n: Int, images: Tensor) -> [Int32] {
        BatchLoader.fillPlain(dataset, start: start, count: n, mean: mean, std: std, images: images)
    }
}

/// Builds a run's data from its config: the synthetic dataset (generated once, cached),
/// CIFAR-10/100 binaries or an image folder (decoded once, cached); normalisation
/// statistics from the pre-train pool (or ImageNet's, for a folder that asks).
public enum RunDataFactory {
    public static func defaultCacheDir() -> String {
        ProcessInfo.processInfo.environment["MIMLAB_CACHE"] ?? ".cache/mimlab"
    }

    /// `observer` hears about folder decoding (a "decode" phase, the cache size); `strict`
    /// refuses a folder with non-image files instead of skipping them.
    public static func make(_ c: RunConfig, cacheDir: String? = nil, observer: TrainObserver? = nil,
                            strict: Bool = false) throws -> RunData {
        let cache = cacheDir ?? defaultCacheDir()
        let pool: any Dataset, labelled: any Dataset, test: any Dataset
        switch c.data.dataset {
        case "folder":
            let (t, l, v) = try folder(c, cacheDir: cache, observer: observer, strict: strict)
            (pool, labelled, test) = (t, l, v)
            if c.data.normalize == "imagenet" {
                return assemble(c, pool: pool, labelled: labelled, test: test, mean: imagenetMean, std: imagenetStd)
            }
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
        return assemble(c, pool: pool, labelled: labelled, test: test, mean: mean, std: std)
    }

    /// torchvision's ImageNet normalisation constants (`data.normalize: imagenet`).
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// The loaders of a run over given splits: augmentation as the config says, seeds from
    /// the run seed.
    public static func assemble(_ c: RunConfig, pool: any Dataset, labelled: any Dataset, test: any Dataset,
                                mean: [Float], std: [Float]) -> RunData {
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

    /// A folder run's pool, label budget and test set: class-balanced draws of the sizes the
    /// config asks for (all images when it asks for more), seeded by the data, not the run
    /// (seeds vary the run, not the dataset, as for the synthetic data).
    static func folder(_ c: RunConfig, cacheDir: String, observer: TrainObserver?,
                       strict: Bool) throws -> (FolderDataset, FolderDataset, FolderDataset) {
        let path = c.data.path ?? ""
        let folder = try ImageFolder.scan(path, valFraction: c.data.valFraction, strict: strict)
        guard folder.contentHash == c.data.folderHash else {
            throw DataError("\(path): the folder's files changed since this run was configured (content hash \(folder.contentHash), the run's \(c.data.folderHash ?? "none")); load or plan the run again")
        }
        if !folder.skipped.isEmpty {
            observer?.note("\(path): skipped \(folder.skipped.count) non-image file(s), e.g. \(folder.skipped[0]) (--strict refuses them)")
        }
        let policy = ResizePolicy(rawValue: c.data.resize ?? "") ?? .shorter
        let (train, val) = try folder.load(size: c.data.imageSize, policy: policy, cacheDir: cacheDir) { event in
            guard let observer else { return }
            switch event {
            case .decoding(let n, let bytes, let at):
                observer.note(String(format: "decoding %d images of %@ at %d px into a %.1f MiB cache: %@", n, path,
                                     c.data.imageSize, Double(bytes) / 1_048_576, at))
                observer.phaseStarted("decode", totalSteps: n)
            case .progress(let done, _): if done > 0 { observer.stepFinished("decode", step: done, loss: nil, lr: nil, imagesPerSecond: 0) }
            case .written(_, let seconds): observer.phaseFinished("decode", seconds: seconds)
            }
        }
        let seed = PRNG(seed: 0).fork("folder")
        return (train.balancedSubset(c.data.poolSize, seed: seed.fork("pool")),
                train.balancedSubset(c.data.finetuneSize, seed: seed.fork("finetune")),
                val.balancedSubset(c.data.testSize, seed: seed.fork("test")))
    }
}
