import Foundation
import Tensor

/// Batches for a training loop: deterministic for (epoch, index), so a run can be
/// repeated exactly and resumed mid-way.
public protocol BatchSource {
    var batchSize: Int { get }
    var batchesPerEpoch: Int { get }
    var imageShape: (channels: Int, size: Int) { get }
    /// Fills `images` (`[B, C, H, W]`, resized by the source) and returns the labels.
    func fill(epoch: Int, index: Int, images: Tensor) -> [Int32]
}

/// Every image once, in order, no augmentation: for evaluation and feature extraction.
public protocol EvaluationSource {
    var count: Int { get }
    var imageShape: (channels: Int, size: Int) { get }
    /// Fills images `start ..< start + n` and returns their labels.
    func fill(start: Int, count n: Int, images: Tensor) -> [Int32]
}
