import Tensor

/// Analytic matmul FLOPs per image (1 multiply-add = 2 FLOPs): a forward pass, and a
/// training step (forward + backward).
public struct FlopCount: Equatable, Sendable {
    public var forward: Double
    public var train: Double

    public init(forward: Double, train: Double) {
        self.forward = forward
        self.train = train
    }

    /// A stack of matmuls whose input gradients are all needed: backward = 2 × forward.
    public static func layers(_ forward: Double) -> FlopCount { FlopCount(forward: forward, train: 3 * forward) }

    public static func + (a: FlopCount, b: FlopCount) -> FlopCount {
        FlopCount(forward: a.forward + b.forward, train: a.train + b.train)
    }
}
