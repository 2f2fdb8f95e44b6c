import NN
import Tensor

/// The Dynamic Alignment matrix (official `distill_weights`): teacher level t is aligned
/// with Σ_s W[t, s] · (student block s's output). It is learnable, not weight-decayed (the
/// official optimizer's `skip_list`), and dropped after pre-training.
///
/// The official matrix is `eye(S) + 0.01` and needs as many student as teacher blocks;
/// here it is `[T, S]` with the ones on the diagonal that ends at the last levels
/// (W[t, s] = 1 where s − S = t − T), which is the official one when T = S.
public final class DynamicAlignment: Module {
    public let weights: Parameter
    public let teacherLevels: Int
    public let studentLevels: Int
    private var inputs: [Tensor] = []
    private var rows: [Int] = []
    private var outputs: [Tensor] = []
    private var gradInputs: [Tensor] = []

    public init(teacherLevels T: Int, studentLevels S: Int) {
        teacherLevels = T
        studentLevels = S
        weights = Parameter("distill_weights", shape: [T, S], weightDecay: false)
        initialize()
    }

    public var parameters: [Parameter] { [weights] }

    /// Identity (aligned at the last levels) + 0.01.
    public func initialize() {
        let T = teacherLevels, S = studentLevels, W = weights.value.data
        for t in 0..<T { for s in 0..<S { W[t * S + s] = (s - S == t - T ? 1 : 0) + 0.01 } }
    }

    /// `levels`: the S student features, each `[rows, D]`; `rows`: the teacher levels wanted.
    /// Returns one mixed feature per wanted level.
    public func forward(_ levels: [Tensor], rows wanted: [Int]) -> [Tensor] {
        precondition(levels.count == studentLevels, "DynamicAlignment: \(levels.count) student levels, expected \(studentLevels)")
        inputs = levels
        rows = wanted
        let S = studentLevels, n = levels[0].count, W = weights.value.data
        while outputs.count < wanted.count { outputs.append(Tensor(shape: [0])) }
        for (j, t) in wanted.enumerated() {
            let o = outputs[j]
            o.resize(levels[0].shape, zeroed: true)
            for s in 0..<S {
                let w = W[t * S + s], X = levels[s].data, O = o.data
                Parallel.elementwise(n) { lo, hi in for i in lo..<hi { O[i] += w * X[i] } }
            }
        }
        return Array(outputs.prefix(wanted.count))
    }

    /// `grads`: d loss / d (each mixed feature of the last forward). Accumulates dW and
    /// returns d loss / d (each student level).
    public func backward(_ grads: [Tensor]) -> [Tensor] {
        let S = studentLevels, n = inputs[0].count, W = weights.value.data, dW = weights.grad.data
        while gradInputs.count < S { gradInputs.append(Tensor(shape: [0])) }
        for s in 0..<S { gradInputs[s].resize(inputs[0].shape, zeroed: true) }
        for (j, t) in rows.enumerated() {
            let G = grads[j].data
            for s in 0..<S {
                let X = inputs[s].data, D = gradInputs[s].data, w = W[t * S + s]
                var dot = 0.0
                for i in 0..<n { dot += Double(G[i]) * Double(X[i]) }
                dW[t * S + s] += Float(dot)
                Parallel.elementwise(n) { lo, hi in for i in lo..<hi { D[i] += w * G[i] } }
            }
        }
        return Array(gradInputs.prefix(S))
    }
}
