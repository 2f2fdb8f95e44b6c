/// SimMIM Table 4's "K-bin" targets: each channel's raw value in [0, 1] falls into one of K
/// equal bins, [i/K, (i+1)/K), and the head classifies it. Values outside [0, 1] (a crop's
/// interpolation overshoot) are clamped first. With K = 256 every 8-bit value u/255 lands
/// in its own bin u.
public struct ChannelBins: Equatable, Sendable {
    public let count: Int

    public init(_ count: Int) {
        precondition(count >= 2, "ChannelBins: need at least 2 bins")
        self.count = count
    }

    @inline(__always) public func bin(_ raw: Float) -> Int {
        let v = min(max(raw, 0), 1)
        return min(count - 1, Int(v * Float(count)))
    }

    /// The value a bin stands for when de-quantised: its centre.
    @inline(__always) public func center(_ bin: Int) -> Float { (Float(bin) + 0.5) / Float(count) }
}
