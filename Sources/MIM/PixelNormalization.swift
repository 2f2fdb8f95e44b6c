import Tensor

/// The per-channel normalisation the data pipeline applied, `x = (raw − mean) / std` with
/// raw in [0, 1]. Classification targets (bins, colour clusters) are defined on raw colours
/// while the model sees normalised images, so they need this to undo it.
public struct PixelNormalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && std.allSatisfy { $0 > 0 }, "PixelNormalization: one positive std per mean")
        self.mean = mean
        self.std = std
    }

    /// No normalisation: the images already hold raw [0, 1] values.
    public static func identity(channels: Int) -> PixelNormalization {
        PixelNormalization(mean: Array(repeating: 0, count: channels), std: Array(repeating: 1, count: channels))
    }

    public var channels: Int { mean.count }

    @inline(__always) public func raw(_ x: Float, channel c: Int) -> Float { x * std[c] + mean[c] }
    @inline(__always) public func normalized(_ raw: Float, channel c: Int) -> Float { (raw - mean[c]) / std[c] }

    /// The raw colours of normalised images `[B, C, H, W]`, pixel-major (`[B·H·W, C]`): what
    /// `ColorPalette.fit` takes.
    public func rawPixels(_ images: Tensor) -> [Float] {
        let C = channels, B = images.shape[0], HW = images.count / (B * C)
        precondition(images.shape.count == 4 && images.shape[1] == C, "rawPixels: images \(images.shape), \(C) channels")
        var out = [Float](repeating: 0, count: B * HW * C)
        let X = images.data
        for b in 0..<B { for c in 0..<C { for i in 0..<HW {
            out[(b * HW + i) * C + c] = raw(X[(b * C + c) * HW + i], channel: c)
        } } }
        return out
    }
}
