import Tensor

/// y = x Wᵀ + b over the rows of x (`[rows, in]` → `[rows, out]`), W stored `[out, in]`.
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let inFeatures: Int
    public let outFeatures: Int

    public let output = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    /// `weightShape` lets a conv-shaped weight (patch embedding `[D, C, p, p]`, 1×1 decoder
    /// `[out, D, 1, 1]`) keep its PyTorch shape while acting as a matrix.
    public init(_ name: String, in inFeatures: Int, out outFeatures: Int, bias: Bool = true,
                weightShape: [Int]? = nil, layerID: Int = 0) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let shape = weightShape ?? [outFeatures, inFeatures]
        precondition(Tensor.elementCount(shape) == inFeatures * outFeatures)
        weight = Parameter(name + ".weight", shape: shape, weightDecay: true, layerID: layerID)
        self.bias = bias ? Parameter(name + ".bias", shape: [outFeatures], layerID: layerID) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    @discardableResult
    public func forward(_ x: Tensor) -> Tensor {
        let rows = x.count / inFeatures
        precondition(rows * inFeatures == x.count, "Linear \(weight.name): input \(x.shape)")
        input = x
        output.resize([rows, outFeatures])
        if let bias {
            // Start from the bias in every row so the product can accumulate onto it.
            let b = bias.value.data, y = output.data, n = outFeatures
            Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / n)) { lo, hi in
                for r in lo..<hi { (y + r * n).update(from: b, count: n) }
            }
        }
        BLAS.sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: x.data, lda: inFeatures, b: weight.value.data, ldb: inFeatures,
                   beta: bias == nil ? 0 : 1, c: output.data, ldc: outFeatures)
        return output
    }

    /// Accumulates dW += dyᵀ x and db += Σ_rows dy; returns dx = dy W unless not needed.
    @discardableResult
    public func backward(_ dy: Tensor, needInputGrad: Bool = true) -> Tensor {
        guard let x = input else { preconditionFailure("Linear \(weight.name): backward before forward") }
        let rows = x.count / inFeatures
        BLAS.sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
                   a: dy.data, lda: outFeatures, b: x.data, ldb: inFeatures,
                   beta: 1, c: weight.grad.data, ldc: inFeatures)
        if let bias {
            Kernels.columnSums(dy.data, rows: rows, cols: outFeatures, into: bias.grad.data, accumulate: true)
        }
        if needInputGrad {
            gradInput.resize([rows, inFeatures])
            BLAS.sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                       a: dy.data, lda: outFeatures, b: weight.value.data, ldb: inFeatures,
                       beta: 0, c: gradInput.data, ldc: inFeatures)
        }
        return gradInput
    }
}
