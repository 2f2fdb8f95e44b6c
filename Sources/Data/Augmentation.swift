import Foundation
import Tensor

/// The per-image input pipeline: optional random resized crop (back to the image size),
/// horizontal flip with p = 0.5, then per-channel normalisation `(x/255 - mean) / std`.
/// Deterministic given the PRNG: the crop draws first, then the flip.
public struct Augmentation: Sendable, Equatable {
    public var crop: RandomResizedCrop?
    public var flip: Bool
    public var mean: [Float]
    public var std: [Float]

    /// `cropScale` nil: no crop.
    public init(cropScale: ClosedRange<Float>? = 0.67...1, cropRatio: ClosedRange<Float> = 0.75...(4.0 / 3.0),
                flip: Bool = true, mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && std.allSatisfy { $0 > 0 }, "normalisation needs one positive std per mean")
        crop = cropScale.map { RandomResizedCrop(scale: $0, ratio: cropRatio) }
        self.flip = flip; self.mean = mean; self.std = std
    }

    /// No crop, no flip: evaluation.
    public static func none(mean: [Float], std: [Float]) -> Augmentation {
        Augmentation(cropScale: nil, flip: false, mean: mean, std: std)
    }

    /// Writes image `src` (CHW bytes, `channels × size × size`), augmented and normalised,
    /// into `out` as CHW floats.
    public func apply(_ src: UnsafePointer<UInt8>, size S: Int, channels C: Int, rng: inout PRNG,
                      into out: UnsafeMutablePointer<Float>) {
        precondition(mean.count == C, "normalisation has \(mean.count) channels, the image \(C)")
        let box = crop?.sample(width: S, height: S, rng: &rng) ?? RandomResizedCrop.Box(top: 0, left: 0, height: S, width: S)
        let mirror = flip && rng.uniform() < 0.5
        let hw = S * S
        for c in 0..<C {
            let a = 1 / (255 * std[c]), b = -mean[c] / std[c]
            RandomResizedCrop.resample(src + c * hw, size: S, box: box, mirror: mirror, into: out + c * hw, scale: a, offset: b)
        }
    }

    /// Same as `apply` for image i of a dataset.
    public func apply(_ ds: any Dataset, _ i: Int, rng: inout PRNG, into out: UnsafeMutablePointer<Float>) {
        ds.withPixels(i) { apply($0, size: ds.imageSize, channels: ds.channels, rng: &rng, into: out) }
    }
}
