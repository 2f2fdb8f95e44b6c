import Data
import Foundation
import Tensor
import XCTest

final class SyntheticTests: TempDirTestCase {
    let record = 3073

    func testDeterministicBySeedAndIndependentOfThreadsAndCount() {
        let spec = SyntheticSpec(seed: 3)
        let a = SyntheticDataset.generate(spec, split: .pool, count: 120)
        XCTAssertEqual(a, SyntheticDataset.generate(spec, split: .pool, count: 120))
        XCTAssertNotEqual(a, SyntheticDataset.generate(SyntheticSpec(seed: 4), split: .pool, count: 120))
        // Splits are disjoint streams: no image of the test split repeats one of the pool.
        let test = SyntheticDataset.generate(spec, split: .test, count: 120)
        let poolImages = Set((0..<120).map { a[($0 * record + 1)..<(($0 + 1) * record)] })
        XCTAssertFalse((0..<120).contains { poolImages.contains(test[($0 * record + 1)..<(($0 + 1) * record)]) })
        // Image i does not depend on how many are generated, nor on the thread count.
        XCTAssertEqual(Array(a[0..<(50 * record)]), SyntheticDataset.generate(spec, split: .pool, count: 50))
        let saved = Parallel.threads
        Parallel.threads = 1
        let serial = SyntheticDataset.generate(spec, split: .pool, count: 120)
        Parallel.threads = saved
        XCTAssertEqual(serial, a)
    }

    func testLabelsInRangeAndBalanced() throws {
        for classes in [10, 12] {
            let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 1, classes: classes), split: .finetune, count: 10 * classes + 3, cacheDir: nil)
            let counts = ds.classCounts()
            XCTAssertEqual(counts.count, classes)
            XCTAssertEqual(counts.reduce(0, +), ds.count)
            XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1, "\(counts)")
        }
        assertThrowsDataError(try SyntheticDataset.dataset(SyntheticSpec(classes: 9), split: .pool, count: 1, cacheDir: nil),
                              mentions: ["data.classes = 9", "10 to \(SyntheticSpec.maxClasses)"])
    }

    func testSplitsHaveTheirSizesAndImageSizeScales() throws {
        let spec = SyntheticSpec(seed: 2, imageSize: 48, poolSize: 30, finetuneSize: 20, testSize: 10)
        let ds = try SyntheticDataset(spec, cacheDir: dir.path)
        XCTAssertEqual([ds.pool.count, ds.finetune.count, ds.test.count], [30, 20, 10])
        XCTAssertEqual(ds.pool.imageSize, 48)
        XCTAssertEqual(ds.pool.pixels(0).count, 3 * 48 * 48)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".bin") }.count, 3)
    }

    func testCacheIsReusedAndATruncatedCacheRegenerated() throws {
        let spec = SyntheticSpec(seed: 5)
        let fresh = try SyntheticDataset.dataset(spec, split: .pool, count: 40, cacheDir: dir.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(files, [spec.cacheFileName(.pool, count: 40)])   // no temp file left behind
        XCTAssert(files[0].contains("v\(SyntheticSpec.generatorVersion)") && files[0].contains("seed5"), files[0])
        let path = dir.appendingPathComponent(files[0])
        // A complete file is read, not regenerated: a same-size marker file comes back as is.
        var marker = fresh.bytes
        marker[1] = marker[1] &+ 1
        try Data(marker).write(to: path)
        XCTAssertEqual(try SyntheticDataset.dataset(spec, split: .pool, count: 40, cacheDir: dir.path).bytes, marker)
        // A truncated one is regenerated and rewritten.
        try Data(fresh.bytes.prefix(1000)).write(to: path)
        XCTAssertEqual(try SyntheticDataset.dataset(spec, split: .pool, count: 40, cacheDir: dir.path).bytes, fresh.bytes)
        XCTAssertEqual(try Data(contentsOf: path), Data(fresh.bytes))
        // And the cache is readable as the CIFAR-10 layout it claims to be.
        XCTAssertEqual(try ImageDataset(bytes: [UInt8](Data(contentsOf: path)), imageSize: 32, numClasses: 10, name: "c").count, 40)
    }

    /// Colour carries no label information: a nearest-class-mean classifier on an image's
    /// mean RGB (and on its figure-vs-background colour spread) is at chance.
    func testColourAloneDoesNotGiveTheLabel() throws {
        let n = 3000, hw = 1024
        let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 1), split: .pool, count: n, cacheDir: nil)
        let feats: [[Double]] = (0..<n).map { i in
            ds.withPixels(i) { p in (0..<3).map { c in (0..<hw).reduce(0.0) { $0 + Double(p[c * hw + $1]) } / Double(hw) } }
        }
        var means = [[Double]](repeating: [0, 0, 0], count: 10), counts = [Double](repeating: 0, count: 10)
        for i in 0..<(n / 2) { counts[ds.label(at: i)] += 1; for c in 0..<3 { means[ds.label(at: i)][c] += feats[i][c] } }
        for k in 0..<10 { for c in 0..<3 { means[k][c] /= counts[k] } }
        func dist(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
        let correct = ((n / 2)..<n).filter { i in (0..<10).min { dist(feats[i], means[$0]) < dist(feats[i], means[$1]) }! == ds.label(at: i) }.count
        // Chance is 0.10; the standard error over 1500 images is 0.008.
        let accuracy = Double(correct) / Double(n / 2)
        print("nearest class mean on the mean colour: \(String(format: "%.1f", 100 * accuracy))% (chance 10%)")
        XCTAssertLessThan(accuracy, 0.14)
        // One-way ANOVA per channel. The figure is lighter than its background (drawing
        // version 5), so an image's brightness grows with the figure's area, a shape
        // property, as the ink of an MNIST digit does: measured F = 1.7, 9.7, 1.0 for R, G, B
        // (green weighs most in luma; under 3% of the variance), while the nearest class mean
        // above stays at chance (10.6%). Under "no signal" F ~ F(9, 2990) (99.9% point 3.1);
        // a colour tied to the class would put F in the hundreds.
        for c in 0..<3 {
            let all = (0..<n).map { feats[$0][c] }, grand = all.reduce(0, +) / Double(n)
            var classSum = [Double](repeating: 0, count: 10), classN = classSum
            for i in 0..<n { classSum[ds.label(at: i)] += all[i]; classN[ds.label(at: i)] += 1 }
            let classMean = (0..<10).map { classSum[$0] / classN[$0] }
            let between = (0..<10).map { classN[$0] * (classMean[$0] - grand) * (classMean[$0] - grand) }.reduce(0, +) / 9
            let within = (0..<n).map { (all[$0] - classMean[ds.label(at: $0)]) * (all[$0] - classMean[ds.label(at: $0)]) }.reduce(0, +) / Double(n - 10)
            print("channel \(c): F = \(String(format: "%.1f", between / within))")
            XCTAssertLessThan(between / within, 20, "channel \(c): class means \(classMean)")
        }
    }

    func testPreviewIsAPPMGridByClass() throws {
        let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 1), split: .test, count: 30, cacheDir: nil)
        let ppm = Preview.ppmGrid(ds, perClass: 3, zoom: 2)
        let header = "P6\n\(3 * 66 + 2) \(10 * 66 + 2)\n255\n"
        XCTAssertEqual(String(decoding: ppm.prefix(header.utf8.count), as: UTF8.self), header)
        XCTAssertEqual(ppm.count, header.utf8.count + (3 * 66 + 2) * (10 * 66 + 2) * 3)
        // Row 4 (class 4), column 1 is the second image of class 4: image 14; its pixel (0,0).
        let W = 3 * 66 + 2, o = header.utf8.count + ((4 * 66 + 2) * W + 66 + 2) * 3
        XCTAssertEqual(Array(ppm[o..<(o + 3)]), ds.withPixels(14) { [$0[0], $0[1024], $0[2048]] })
    }
}
