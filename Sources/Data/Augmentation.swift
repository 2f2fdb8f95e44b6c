import Foundation
import Tensor

/// Pre-training / fine-tuning augmentation and normalisation, producing model input.
///
/// RandomResizedCrop follows torchvision: up to 10 tries of an area fraction in `scale`
/// and a log-uniform aspect ratio in `ratio`, else a centre crop clamped to the ratio range;
/// the crop is resampled to the output size bilinearly (pixel centres aligned). The
/// official SimMIM pre-training uses scale (0.67, 1), ratio (3/4, 4/3), horizontal flips.
public struct Augmentation: Sendable, Equatable {
    public var cropScale: ClosedRange<Float>? = 0.67...1
    public var cropRatio: ClosedRange<Float> = 0.75...(4.0 / 3.0)
    public var flip = true
    public var mean: [Float]
    public var std: [Float]

    public init(cropScale: ClosedRange<Float>? = 0.67...1, cropRatio: ClosedRange<Float> = 0.75...(4.0 / 3.0),
                flip: Bool = true, mean: [Float], std: [Float]) {
        self.cropScale = cropScale; self.cropRatio = cropRatio; self.flip = flip
        self.mean = mean; self.std = std
    }

    /// No crop, no flip: evaluation.
    public static func none(mean: [Float], std: [Float]) -> Augmentation {
        Augmentation(cropScale: nil, flip: false, mean: mean, std: std)
    }

    /// (x0, y0, w, h) in source pixels.
    public func cropBox(size S: Int, rng: inout PRNG) -> (Float, Float, Float, Float) {
        guard let scale = cropScale else { return (0, 0, Float(S), Float(S)) }
        let area = Float(S * S)
        let logLo = log(cropRatio.lowerBound), logHi = log(cropRatio.upperBound)
        for _ in 0..<10 {
            let target = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let ar = exp(rng.uniform(logLo, logHi))
            let w = (target * ar).squareRoot().rounded(), h = (target / ar).squareRoot().rounded()
            if w > 0 && h > 0 && w <= Float(S) && h <= Float(S) {
                let x0 = Float(rng.int(Int(Float(S) - w) + 1)), y0 = Float(rng.int(Int(Float(S) - h) + 1))
                return (x0, y0, w, h)
            }
        }
        return (0, 0, Float(S), Float(S))   // square images: the fallback is the whole image
    }

    /// Writes the augmented, normalised CHW image into `out`.
    public func apply(_ src: UnsafePointer<UInt8>, size S: Int, channels C: Int, rng: inout PRNG,
                      into out: UnsafeMutablePointer<Float>) {
        let (x0, y0, w, h) = cropBox(size: S, rng: &rng)
        let mirror = flip && rng.uniform() < 0.5
        let hw = S * S
        let identity = x0 == 0 && y0 == 0 && w == Float(S) && h == Float(S)
        for c in 0..<C {
            let inv = 1 / (255 * std[c]), m = mean[c] / std[c]
            let plane = src + c * hw, dst = out + c * hw
            for oy in 0..<S {
                for ox in 0..<S {
                    let sx = mirror ? S - 1 - ox : ox
                    var v: Float
                    if identity {
                        v = Float(plane[oy * S + sx])
                    } else {
                        // Bilinear, sampling at pixel centres of the crop.
                        let fx = x0 + (Float(sx) + 0.5) * w / Float(S) - 0.5
                        let fy = y0 + (Float(oy) + 0.5) * h / Float(S) - 0.5
                        let xa = min(max(Int(fx.rounded(.down)), 0), S - 1), ya = min(max(Int(fy.rounded(.down)), 0), S - 1)
                        let xb = min(xa + 1, S - 1), yb = min(ya + 1, S - 1)
                        let tx = min(max(fx - Float(xa), 0), 1), ty = min(max(fy - Float(ya), 0), 1)
                        let top = Float(plane[ya * S + xa]) * (1 - tx) + Float(plane[ya * S + xb]) * tx
                        let bot = Float(plane[yb * S + xa]) * (1 - tx) + Float(plane[yb * S + xb]) * tx
                        v = top * (1 - ty) + bot * ty
                    }
                    dst[oy * S + ox] = v * inv - m
                }
            }
        }
    }
}

/// Deterministic shuffling and batching: epoch e's order is `PRNG(seed).fork(e)`'s
/// permutation; image j of batch k is augmented with `PRNG(seed).fork(e).fork(k·B + j)`,
/// so batches do not depend on thread count or on which batches were drawn before.
public struct BatchLoader: Sendable {
    public let dataset: ImageDataset
    public let batchSize: Int
    public let augmentation: Augmentation
    public let seed: UInt64
    public let dropLast: Bool

    public init(_ dataset: ImageDataset, batchSize: Int, augmentation: Augmentation, seed: UInt64, dropLast: Bool = true) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.augmentation = augmentation
        self.seed = seed
        self.dropLast = dropLast
    }

    public var batchesPerEpoch: Int {
        dropLast ? max(1, dataset.count / batchSize) : (dataset.count + batchSize - 1) / batchSize
    }

    public func order(epoch: Int) -> [Int] {
        var r = PRNG(seed: seed).fork(epoch)
        return r.permutation(dataset.count)
    }

    /// Fills `images` `[B, C, H, W]` with batch `index` of `epoch`; returns the labels.
    public func fill(epoch: Int, index: Int, images: Tensor) -> [Int32] {
        let order = order(epoch: epoch)
        let lo = index * batchSize
        let idx = Array(order[min(lo, order.count)..<min(lo + batchSize, order.count)])
        // A dataset smaller than one batch still yields a (short) batch.
        let n = idx.count
        let S = dataset.imageSize, C = dataset.channels
        images.resize([n, C, S, S])
        let per = C * S * S
        let base = PRNG(seed: seed).fork(epoch)
        let out = images.data, ds = dataset, aug = augmentation
        Parallel.forEach(n, minPerChunk: 8) { j in
            var r = base.fork(lo + j)
            ds.withPixels(idx[j]) { aug.apply($0, size: S, channels: C, rng: &r, into: out + j * per) }
        }
        return idx.map { Int32(dataset.label($0)) }
    }

    /// Images `start ..< start + n` in dataset order, normalised, no augmentation.
    public static func fillPlain(_ ds: ImageDataset, start: Int, count n: Int, mean: [Float], std: [Float],
                                 images: Tensor) -> [Int32] {
        let S = ds.imageSize, C = ds.channels, per = C * S * S
        images.resize([n, C, S, S])
        let aug = Augmentation.none(mean: mean, std: std), out = images.data
        Parallel.forEach(n, minPerChunk: 8) { j in
            var r = PRNG(seed: 0)
            ds.withPixels(start + j) { aug.apply($0, size: S, channels: C, rng: &r, into: out + j * per) }
        }
        return (start..<(start + n)).map { Int32(ds.label($0)) }
    }
}
