import Data
import Foundation
import Tensor
import XCTest

final class DataTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testCIFARReaderRoundTripAndErrors() throws {
        // Two CIFAR-10 files' worth of records in the binary layout, label then RGB planes.
        var records = [UInt8]()
        for i in 0..<3 { records.append(UInt8(i)); records += (0..<3072).map { UInt8(($0 + i) % 256) } }
        for b in 1...5 { try Data(records).write(to: dir.appendingPathComponent("data_batch_\(b).bin")) }
        try Data(records).write(to: dir.appendingPathComponent("test_batch.bin"))
        let train = try CIFAR.load(.cifar10, directory: dir.path, train: true)
        XCTAssertEqual(train.count, 15)
        XCTAssertEqual(train.label(4), 1)
        XCTAssertEqual(train.withPixels(4) { $0[0] }, 1)
        XCTAssertEqual(train.withPixels(4) { $0[1024] }, UInt8((1024 + 1) % 256))   // the green plane
        // CIFAR-100: coarse and fine label bytes; the fine one is the label.
        let r100: [UInt8] = [7, 42] + [UInt8](repeating: 9, count: 3072)
        try Data(r100).write(to: dir.appendingPathComponent("train.bin"))
        let c100 = try CIFAR.load(.cifar100, directory: dir.path, train: true)
        XCTAssertEqual(c100.label(0), 42)
        XCTAssertEqual(c100.numClasses, 100)
        // A truncated file and a missing one are named.
        try Data(records.dropLast(5)).write(to: dir.appendingPathComponent("test_batch.bin"))
        XCTAssertThrowsError(try CIFAR.load(.cifar10, directory: dir.path, train: false)) { e in
            XCTAssert("\(e)".contains("test_batch.bin") && "\(e)".contains("3073-byte"), "\(e)")
        }
        XCTAssertThrowsError(try CIFAR.load(.cifar100, directory: dir.path, train: false)) { e in
            XCTAssert("\(e)".contains("test.bin: missing"), "\(e)")
        }
        XCTAssertThrowsError(try CIFAR.load(.cifar10, directory: "/nonexistent", train: true)) { e in
            XCTAssert("\(e)".contains("/nonexistent: no such directory"), "\(e)")
        }
    }

    func testSyntheticIsDeterministicBalancedAndCached() throws {
        let spec = SyntheticSpec(seed: 3)
        let a = Synthetic.generate(spec, split: .pool, count: 200)
        XCTAssertEqual(a, Synthetic.generate(spec, split: .pool, count: 200))
        XCTAssertNotEqual(a, Synthetic.generate(spec, split: .test, count: 200))
        XCTAssertNotEqual(a, Synthetic.generate(SyntheticSpec(seed: 4), split: .pool, count: 200))
        // Image i does not depend on how many images are generated (or on threads).
        XCTAssertEqual(Array(a[0..<(50 * 3073)]), Synthetic.generate(spec, split: .pool, count: 50))
        let ds = try Synthetic.dataset(spec, split: .pool, count: 200, cacheDir: dir.path)
        var counts = [Int](repeating: 0, count: 10)
        for i in 0..<ds.count { counts[ds.label(i)] += 1 }
        XCTAssertEqual(counts, [Int](repeating: 20, count: 10))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(files.count, 1)
        let path = dir.appendingPathComponent(files[0]).path
        // A truncated cache file is regenerated, not trusted.
        let full = FileManager.default.contents(atPath: path)!
        try full.prefix(1000).write(to: URL(fileURLWithPath: path))
        let again = try Synthetic.dataset(spec, split: .pool, count: 200, cacheDir: dir.path)
        XCTAssertEqual(again.bytes, ds.bytes)
        XCTAssertEqual(FileManager.default.contents(atPath: path)!.count, full.count)
    }

    /// The label is not in the colour: a nearest-class-mean classifier on an image's mean
    /// RGB is near chance, while the classes are balanced.
    func testColourAloneDoesNotGiveTheLabel() {
        let spec = SyntheticSpec(seed: 1)
        let n = 2000, S = 32, hw = S * S
        let bytes = Synthetic.generate(spec, split: .pool, count: n)
        var feats: [[Double]] = [], labels: [Int] = []
        for i in 0..<n {
            let base = i * (1 + 3 * hw)
            labels.append(Int(bytes[base]))
            feats.append((0..<3).map { c in (0..<hw).reduce(0.0) { $0 + Double(bytes[base + 1 + c * hw + $1]) } / Double(hw) })
        }
        var means = [[Double]](repeating: [0, 0, 0], count: 10), counts = [Double](repeating: 0, count: 10)
        for i in 0..<(n / 2) { counts[labels[i]] += 1; for c in 0..<3 { means[labels[i]][c] += feats[i][c] } }
        for k in 0..<10 { for c in 0..<3 { means[k][c] /= counts[k] } }
        var correct = 0
        for i in (n / 2)..<n {
            let best = (0..<10).min { a, b in
                zip(feats[i], means[a]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) <
                zip(feats[i], means[b]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }!
            if best == labels[i] { correct += 1 }
        }
        XCTAssertLessThan(Double(correct) / Double(n / 2), 0.2)   // chance is 0.1
    }

    func testRandomResizedCropHonoursRangesAndIdentity() {
        var rng = PRNG(seed: 5)
        let aug = Augmentation(cropScale: 0.3...0.6, cropRatio: 0.5...2, flip: false, mean: [0, 0, 0], std: [1, 1, 1])
        for _ in 0..<500 {
            let (x0, y0, w, h) = aug.cropBox(size: 32, rng: &rng)
            XCTAssert(x0 >= 0 && y0 >= 0 && x0 + w <= 32 && y0 + h <= 32)
            if (x0, y0, w, h) != (0, 0, 32, 32) {
                let area = w * h / 1024
                XCTAssert(area >= 0.26 && area <= 0.65, "area \(area)")       // rounding of w, h
                XCTAssert(w / h >= 0.45 && w / h <= 2.2, "ratio \(w / h)")
            }
        }
        // scale (1, 1), ratio (1, 1): the identity (up to normalisation).
        let ident = Augmentation(cropScale: 1...1, cropRatio: 1...1, flip: false, mean: [0, 0, 0], std: [1, 1, 1])
        let src = (0..<3072).map { UInt8($0 % 251) }
        let out = Tensor(shape: [3, 32, 32])
        src.withUnsafeBufferPointer { ident.apply($0.baseAddress!, size: 32, channels: 3, rng: &rng, into: out.data) }
        for i in 0..<3072 { XCTAssertEqual(out[i], Float(src[i]) / 255, accuracy: 1e-6) }
    }

    func testFlipIsAnInvolutionAndNormalisation() {
        let src = (0..<3072).map { UInt8(($0 * 7) % 256) }
        let flip = Augmentation(cropScale: nil, flip: true, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5])
        var rng = PRNG(seed: 1)
        var flipped: Tensor?
        let out = Tensor(shape: [3, 32, 32])
        for _ in 0..<20 {   // p = 0.5: some draw flips
            src.withUnsafeBufferPointer { flip.apply($0.baseAddress!, size: 32, channels: 3, rng: &rng, into: out.data) }
            if out[0] != (Float(src[0]) / 255 - 0.5) / 0.2 { flipped = out.clone(); break }
        }
        guard let f = flipped else { return XCTFail("no flip in 20 draws") }
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
            let v = (Float(src[c * 1024 + y * 32 + (31 - x)]) / 255 - flip.mean[c]) / flip.std[c]
            XCTAssertEqual(f[c * 1024 + y * 32 + x], v, accuracy: 1e-5)
        } } }
        // Normalising with a dataset's own statistics gives mean 0, std 1 per channel.
        let ds = try! ImageDataset(bytes: Synthetic.generate(SyntheticSpec(), split: .test, count: 100),
                                   imageSize: 32, numClasses: 10, name: "t")
        let (mean, std) = ds.channelStatistics()
        let images = Tensor(shape: [0])
        _ = BatchLoader.fillPlain(ds, start: 0, count: 100, mean: mean, std: std, images: images)
        for c in 0..<3 {
            var s = 0.0, ss = 0.0
            for i in 0..<100 { for k in 0..<1024 { let v = Double(images[(i * 3 + c) * 1024 + k]); s += v; ss += v * v } }
            XCTAssertEqual(s / 102_400, 0, accuracy: 1e-3)
            XCTAssertEqual((ss / 102_400).squareRoot(), 1, accuracy: 1e-3)
        }
    }

    func testBatchesAreDeterministicAndCoverEveryIndexOnce() throws {
        let ds = try ImageDataset(bytes: Synthetic.generate(SyntheticSpec(), split: .test, count: 100),
                                  imageSize: 32, numClasses: 10, name: "t")
        let aug = Augmentation(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let loader = BatchLoader(ds, batchSize: 32, augmentation: aug, seed: 9, dropLast: false)
        XCTAssertEqual(loader.batchesPerEpoch, 4)
        XCTAssertEqual(loader.order(epoch: 0).sorted(), Array(0..<100))
        XCTAssertNotEqual(loader.order(epoch: 0), loader.order(epoch: 1))
        let a = Tensor(shape: [0]), b = Tensor(shape: [0])
        let la = loader.fill(epoch: 1, index: 2, images: a)
        _ = loader.fill(epoch: 0, index: 0, images: b)
        let lb = loader.fill(epoch: 1, index: 2, images: b)
        XCTAssertEqual(la, lb)
        XCTAssertEqual(a.array, b.array)
        let last = loader.fill(epoch: 0, index: 3, images: b)
        XCTAssertEqual(last.count, 4)
        XCTAssertEqual(b.shape, [4, 3, 32, 32])
    }
}
