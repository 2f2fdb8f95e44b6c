import Data
import Foundation
import Tensor
import XCTest

final class BatchLoaderTests: XCTestCase {
    func testBatchesAreDeterministicAndCoverEveryIndexOncePerEpoch() throws {
        let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 2), split: .test, count: 100, cacheDir: nil)
        let aug = Augmentation(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let loader = BatchLoader(ds, batchSize: 32, augmentation: aug, seed: 9, dropLast: false)
        XCTAssertEqual(loader.batchesPerEpoch, 4)
        for epoch in 0..<3 {
            let seen = (0..<4).flatMap { loader.indices(epoch: epoch, index: $0) }
            XCTAssertEqual(seen.count, 100)
            XCTAssertEqual(Set(seen).count, 100)
        }
        XCTAssertNotEqual(loader.order(epoch: 0), loader.order(epoch: 1))
        // A batch is a function of (seed, epoch, index): not of what was drawn before, nor
        // of the thread count.
        let a = Tensor(shape: [0]), b = Tensor(shape: [0])
        let la = loader.fill(epoch: 1, index: 2, images: a)
        _ = loader.fill(epoch: 0, index: 0, images: b)
        let saved = Parallel.threads
        Parallel.threads = 1
        let lb = loader.fill(epoch: 1, index: 2, images: b)
        Parallel.threads = saved
        XCTAssertEqual(la, lb)
        XCTAssertEqual(a.array, b.array)
        XCTAssertEqual(a.shape, [32, 3, 32, 32])
        XCTAssertEqual(la, loader.indices(epoch: 1, index: 2).map { Int32(ds.label(at: $0)) })
        // Another seed shuffles differently.
        let other = BatchLoader(ds, batchSize: 32, augmentation: aug, seed: 10, dropLast: false)
        XCTAssertNotEqual(other.order(epoch: 1), loader.order(epoch: 1))
        // The last, short batch.
        let last = loader.fill(epoch: 0, index: 3, images: b)
        XCTAssertEqual(last.count, 4)
        XCTAssertEqual(b.shape, [4, 3, 32, 32])
        XCTAssertEqual(BatchLoader(ds, batchSize: 32, augmentation: aug, seed: 9, dropLast: true).batchesPerEpoch, 3)
    }

    func testAugmentedBatchImagesComeFromTheirIndices() throws {
        // With no crop and no flip, a batch is exactly the normalised images it names.
        let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 2), split: .test, count: 20, cacheDir: nil)
        let loader = BatchLoader(ds, batchSize: 8, augmentation: .none(mean: [0, 0, 0], std: [1, 1, 1]), seed: 1)
        let images = Tensor(shape: [0])
        _ = loader.fill(epoch: 0, index: 1, images: images)
        let plain = Tensor(shape: [3, 32, 32])
        for (j, i) in loader.indices(epoch: 0, index: 1).enumerated() {
            ds.copyImage(i, into: plain.data)
            XCTAssertEqual(Array(images.array[(j * 3072)..<((j + 1) * 3072)]), plain.array)
        }
    }
}
