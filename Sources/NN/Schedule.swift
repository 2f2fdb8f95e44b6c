import Foundation

/// Per-step learning rate: linear warm-up from `warmupInit` to `base`, then cosine decay to
/// `minimum` at `totalSteps` (timm's CosineLRScheduler with t_in_epochs=False, as the
/// official SimMIM code steps it every iteration).
public struct WarmupCosine: Sendable, Equatable {
    public var base: Double
    public var minimum: Double
    public var warmupSteps: Int
    public var warmupInit: Double
    public var totalSteps: Int

    public init(base: Double, minimum: Double = 0, warmupSteps: Int = 0, warmupInit: Double = 0, totalSteps: Int) {
        self.base = base; self.minimum = minimum; self.warmupSteps = warmupSteps
        self.warmupInit = warmupInit; self.totalSteps = totalSteps
    }

    public func lr(at step: Int) -> Double {
        if step < warmupSteps {
            return warmupInit + (base - warmupInit) * Double(step) / Double(warmupSteps)
        }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Double(step - warmupSteps) / Double(span))
        return minimum + 0.5 * (base - minimum) * (1 + cos(Double.pi * t))
    }
}
