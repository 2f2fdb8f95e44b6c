import Data
import Foundation
import Tensor
import XCTest

final class AugmentationTests: XCTestCase {
    /// Bytes whose every value is distinct per position (mod 256), so a moved pixel shows.
    let image: [UInt8] = (0..<3072).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 1024 * 31) }

    func testRandomResizedCropHonoursScaleAndRatio() {
        var rng = PRNG(seed: 5)
        for (scale, ratio) in [(Float(0.3)...0.6, Float(0.5)...2), (0.67...1, 0.75...(4.0 / 3.0))] {
            let crop = RandomResizedCrop(scale: scale, ratio: ratio)
            var areas: [Float] = [], ratios: [Float] = []
            for _ in 0..<2000 {
                let b = crop.sample(width: 32, height: 32, rng: &rng)
                XCTAssert(b.top >= 0 && b.left >= 0 && b.top + b.height <= 32 && b.left + b.width <= 32, "\(b)")
                let area = Float(b.width * b.height) / 1024, r = Float(b.width) / Float(b.height)
                // Whole-pixel rounding moves w and h by up to half a pixel each.
                XCTAssert(area >= scale.lowerBound * 0.9 && area <= scale.upperBound * 1.07, "area \(area) for \(scale)")
                XCTAssert(r >= ratio.lowerBound * 0.9 && r <= ratio.upperBound * 1.1, "ratio \(r) for \(ratio)")
                areas.append(area); ratios.append(r)
            }
            // The draws cover the ranges rather than sitting at one value.
            XCTAssertLessThan(areas.min()!, scale.lowerBound + 0.05 * (scale.upperBound - scale.lowerBound) + 0.02)
            XCTAssertGreaterThan(areas.max()!, scale.upperBound - 0.1 * (scale.upperBound - scale.lowerBound))
            XCTAssertLessThan(ratios.min()!, ratio.lowerBound * 1.1)
            XCTAssertGreaterThan(ratios.max()!, ratio.upperBound * 0.9)
        }
    }

    func testImpossibleCropFallsBackToTheClampedCentreCrop() {
        // No 32×32 crop has area ≥ 90% and w/h ≥ 3: torchvision's centre-crop fallback.
        var rng = PRNG(seed: 1)
        let b = RandomResizedCrop(scale: 0.9...1, ratio: 3...4).sample(width: 32, height: 32, rng: &rng)
        XCTAssertEqual(b, RandomResizedCrop.Box(top: 10, left: 0, height: 11, width: 32))   // top = (32 - 11) // 2
    }

    func testUnitScaleAndRatioIsTheIdentity() {
        let aug = Augmentation(cropScale: 1...1, cropRatio: 1...1, flip: false, mean: [0, 0, 0], std: [1, 1, 1])
        var rng = PRNG(seed: 3)
        let out = Tensor(shape: [3, 32, 32])
        for _ in 0..<5 {
            image.withUnsafeBufferPointer { aug.apply($0.baseAddress!, size: 32, channels: 3, rng: &rng, into: out.data) }
            for i in 0..<3072 { XCTAssertEqual(out[i], Float(image[i]) / 255, accuracy: 1e-6) }
        }
    }

    func testCropZoomsIn() {
        // A centre crop of half the side, resampled to full size: output pixel (2y, 2x) sits
        // between source pixels (8 + y, 8 + x) and their neighbours, i.e. the crop is magnified.
        let ramp: [UInt8] = (0..<1024).map { UInt8($0 % 32 * 8) }   // value = 8·column
        let out = Tensor(shape: [1, 32, 32])
        ramp.withUnsafeBufferPointer {
            RandomResizedCrop.resample($0.baseAddress!, size: 32, box: .init(top: 8, left: 8, height: 16, width: 16),
                                       mirror: false, into: out.data, scale: 1, offset: 0)
        }
        // Output column o samples source column 8 + (o + 0.5)/2 - 0.5.
        for o in 0..<32 { XCTAssertEqual(out[5 * 32 + o], 8 * (8 + (Float(o) + 0.5) / 2 - 0.5), accuracy: 1e-4) }
    }

    func testFlipMirrorsAndIsAnInvolution() {
        let once = Tensor(shape: [3, 32, 32]), twice = Tensor(shape: [3, 32, 32])
        image.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                RandomResizedCrop.resample(src.baseAddress! + c * 1024, size: 32, box: .init(top: 0, left: 0, height: 32, width: 32),
                                           mirror: true, into: once.data + c * 1024, scale: 1, offset: 0)
            }
        }
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
            XCTAssertEqual(once[c * 1024 + y * 32 + x], Float(image[c * 1024 + y * 32 + 31 - x]))
        } } }
        let bytes = once.array.map { UInt8($0) }
        bytes.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                RandomResizedCrop.resample(src.baseAddress! + c * 1024, size: 32, box: .init(top: 0, left: 0, height: 32, width: 32),
                                           mirror: true, into: twice.data + c * 1024, scale: 1, offset: 0)
            }
        }
        XCTAssertEqual(twice.array, image.map(Float.init))
        // Augmentation flips with p = 0.5.
        let aug = Augmentation(cropScale: nil, flip: true, mean: [0, 0, 0], std: [1, 1, 1])
        var rng = PRNG(seed: 9), flips = 0
        let out = Tensor(shape: [3, 32, 32])
        for _ in 0..<400 {
            image.withUnsafeBufferPointer { aug.apply($0.baseAddress!, size: 32, channels: 3, rng: &rng, into: out.data) }
            if out[0] != Float(image[0]) / 255 { flips += 1 }
        }
        XCTAssert(flips > 160 && flips < 240, "\(flips) flips in 400")
    }

    func testNormalisationGivesTheRequestedMeanAndStd() throws {
        let ds = try SyntheticDataset.dataset(SyntheticSpec(seed: 8), split: .test, count: 100, cacheDir: nil)
        let (mean, std) = ds.channelStatistics()
        let images = Tensor(shape: [0])
        _ = BatchLoader.fillPlain(ds, start: 0, count: 100, mean: mean, std: std, images: images)
        for c in 0..<3 {
            var s = 0.0, ss = 0.0
            for i in 0..<100 { for k in 0..<1024 { let v = Double(images[(i * 3 + c) * 1024 + k]); s += v; ss += v * v } }
            XCTAssertEqual(s / 102_400, 0, accuracy: 1e-4)
            XCTAssertEqual((ss / 102_400).squareRoot(), 1, accuracy: 1e-4)
        }
        // A pixel of value v becomes (v/255 - mean) / std, per channel.
        let aug = Augmentation.none(mean: CIFAR.cifar10Mean, std: CIFAR.cifar10Std)
        var rng = PRNG(seed: 0)
        let out = Tensor(shape: [3, 32, 32])
        image.withUnsafeBufferPointer { aug.apply($0.baseAddress!, size: 32, channels: 3, rng: &rng, into: out.data) }
        for i in stride(from: 0, to: 3072, by: 97) {
            XCTAssertEqual(out[i], (Float(image[i]) / 255 - CIFAR.cifar10Mean[i / 1024]) / CIFAR.cifar10Std[i / 1024], accuracy: 1e-5)
        }
    }
}
