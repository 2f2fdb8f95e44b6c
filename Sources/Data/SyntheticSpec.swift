/// What a synthetic dataset is: its seed, image size, number of classes and split sizes.
/// Two equal specs give byte-identical data on every machine and thread count.
public struct SyntheticSpec: Sendable, Equatable, Hashable {
    public var seed: UInt64
    public var imageSize: Int
    public var classes: Int
    /// Unlabelled pre-train pool, labelled fine-tune set (the label budget), held-out test.
    public var poolSize: Int
    public var finetuneSize: Int
    public var testSize: Int

    public init(seed: UInt64 = 0, imageSize: Int = 32, classes: Int = 10,
                poolSize: Int = 10_000, finetuneSize: Int = 2_000, testSize: Int = 2_000) {
        self.seed = seed; self.imageSize = imageSize; self.classes = classes
        self.poolSize = poolSize; self.finetuneSize = finetuneSize; self.testSize = testSize
    }

    /// Bumped whenever the drawing changes, so cached files of older drawings are not reused.
    public static let generatorVersion = 5

    public static var maxClasses: Int { SyntheticShapes.names.count }
    /// Fewer classes would let a figure be told apart by a few crude cues; the task is meant
    /// to need global shape.
    public static let minClasses = 10

    public func size(of split: SyntheticDataset.Split) -> Int {
        switch split {
        case .pool: return poolSize
        case .finetune: return finetuneSize
        case .test: return testSize
        }
    }

    public func validate() throws {
        guard classes >= SyntheticSpec.minClasses && classes <= SyntheticSpec.maxClasses else {
            throw DataError("data.classes = \(classes): the synthetic dataset has \(SyntheticSpec.minClasses) to \(SyntheticSpec.maxClasses) classes")
        }
        guard imageSize >= 16 && imageSize <= 1024 else {
            throw DataError("data.image_size = \(imageSize): synthetic images are 16 to 1024 px")
        }
        for (name, n) in [("pool_size", poolSize), ("finetune_size", finetuneSize), ("test_size", testSize)] where n < 0 {
            throw DataError("data.\(name) = \(n): expected a count ≥ 0")
        }
    }

    /// The cache file name of one split: every field that changes the bytes, and the
    /// generator version.
    public func cacheFileName(_ split: SyntheticDataset.Split, count: Int) -> String {
        "synthetic-v\(SyntheticSpec.generatorVersion)-seed\(seed)-c\(classes)-\(imageSize)px-\(split.rawValue)-\(count).bin"
    }
}
