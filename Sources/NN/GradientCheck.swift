import Foundation
import Tensor

/// Central finite differences against a layer's analytic gradients.
///
/// `loss` runs a forward pass and returns a scalar (accumulate it in Double);
/// `backward` runs the backward pass of the *last* forward, accumulating into the
/// parameter gradients and, for `inputs`, writing the input gradient tensors. Entries are
/// sampled (always including the largest analytic gradient of each tensor); an entry
/// passes when |numeric − analytic| ≤ tol · max(|analytic|, 0.05 · max|grad of tensor|, floor).
public struct GradientCheck {
    public struct Mismatch: CustomStringConvertible {
        public let tensor: String
        public let index: Int
        public let analytic: Double
        public let numeric: Double
        public var description: String {
            "\(tensor)[\(index)]: analytic \(analytic), numeric \(numeric)"
        }
    }

    public var step: Float = 1e-2
    public var tolerance: Double = 2e-2
    public var floor: Double = 1e-5
    public var samplesPerTensor = 6
    public var seed: UInt64 = 7

    public init(step: Float = 1e-2, tolerance: Double = 2e-2, samplesPerTensor: Int = 6) {
        self.step = step
        self.tolerance = tolerance
        self.samplesPerTensor = samplesPerTensor
    }

    /// `inputs`: (name, value, gradient-after-backward) triples for input gradients.
    public func run(parameters: [Parameter], inputs: [(String, Tensor, () -> Tensor)] = [],
                    loss: () -> Double, backward: () -> Void) -> (checked: Int, mismatches: [Mismatch]) {
        for p in parameters { p.zeroGrad() }
        _ = loss()
        backward()
        var targets: [(String, Tensor, [Float])] = parameters.map { ($0.name, $0.value, $0.grad.array) }
        for (name, x, g) in inputs { targets.append((name, x, g().array)) }
        var rng = PRNG(seed: seed)
        var checked = 0
        var bad: [Mismatch] = []
        for (name, value, grad) in targets {
            let gmax = grad.map { abs(Double($0)) }.max() ?? 0
            var idx = Set((0..<min(samplesPerTensor, value.count)).map { _ in rng.int(value.count) })
            if let top = grad.indices.max(by: { abs(grad[$0]) < abs(grad[$1]) }) { idx.insert(top) }
            for i in idx.sorted() {
                let v = value.data[i]
                value.data[i] = v + step
                let lp = loss()
                value.data[i] = v - step
                let lm = loss()
                value.data[i] = v
                let numeric = (lp - lm) / Double(2 * step)
                let analytic = Double(grad[i])
                let scale = max(abs(analytic), 0.05 * gmax, floor)
                checked += 1
                if abs(numeric - analytic) > tolerance * scale {
                    bad.append(Mismatch(tensor: name, index: i, analytic: analytic, numeric: numeric))
                }
            }
        }
        return (checked, bad)
    }

    /// Σ y ⊙ r in Double: a scalar whose gradient with respect to y is r.
    public static func project(_ y: Tensor, _ r: Tensor) -> Double {
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
        return s
    }
}
