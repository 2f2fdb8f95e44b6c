import MIM
import Tensor

/// AvgDist of the masks a MaskAlign run uses, which depend on the data through the teacher's
/// attention (a mask spec alone cannot describe them): the first `samples` masks of its
/// pre-training, drawn again exactly as `Pretrainer` draws them (the same images of epoch 0,
/// the same mask stream, the frozen teacher), so a resumed run measures the same masks.
enum UsedMaskAvgDist {
    static func measure(_ model: MaskAlign, data: BatchSource, spec: MaskSpec, seed: UInt64, samples: Int) -> AvgDistStats {
        var rng = PRNG(seed: seed).fork("mask")
        var stats = AvgDistStats(imageSize: spec.imageSize)
        let images = Tensor(shape: [0]), L = model.config.tokens
        for index in 0..<data.batchesPerEpoch where stats.samples < samples {
            _ = data.fill(epoch: 0, index: index, images: images)
            let b = images.shape[0]
            model.drawMasks(batch: b, &rng)
            let mask = model.masks(for: images, batch: b).mask
            for i in 0..<b where stats.samples < samples { stats.add(mask: Array(mask[(i * L)..<((i + 1) * L)]), spec: spec) }
        }
        return stats
    }
}
