import Tensor

/// GELU in its exact form, 0.5·x·(1 + erf(x/√2)) (PyTorch's default, not the tanh one).
public final class GELU {
    public let output = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public init() {}

    @discardableResult
    public func forward(_ x: Tensor) -> Tensor {
        input = x
        output.resize(x.shape)
        let X = x.data, Y = output.data
        Parallel.elementwise(x.count) { lo, hi in
            vmap(X + lo, Y + lo, hi - lo) { GELU.value($0) }
        }
        return output
    }

    /// dx = dy · (Φ(x) + x·φ(x)), Φ the normal CDF and φ its density.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("GELU: backward before forward") }
        gradInput.resize(x.shape)
        let X = x.data, DY = dy.data, DX = gradInput.data
        Parallel.elementwise(x.count) { lo, hi in
            vmap2(X + lo, DY + lo, DX + lo, hi - lo) { x, g in g * GELU.derivative(x) }
        }
        return gradInput
    }

    @inline(__always) public static func value(_ x: V16) -> V16 {
        0.5 * x * (1 + verf(x * 0.707_106_781_186_547_5))
    }

    @inline(__always) public static func derivative(_ x: V16) -> V16 {
        let cdf = 0.5 * (1 + verf(x * 0.707_106_781_186_547_5))
        let pdf = vexp(-0.5 * x * x) * 0.398_942_280_401_432_7
        return cdf.addingProduct(x, pdf)
    }
}
