import Tensor

/// Picks rows per image by index: out[b, r] = x[b, index[b·m + r]], or a learned `fill`
/// row where the index is −1. MAE's decoder uses it to put the encoded visible tokens back
/// at their grid positions with its mask token everywhere else (`ids_restore`); the
/// backward pass scatters gradients back (adding where an index repeats) and sums the fill
/// rows' gradients into `fill`.
public final class TokenGather: Module {
    public let fill: Parameter?
    /// `[B·m, D]`
    public let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var index: [Int32] = []
    private var rowsIn = 0
    private var batch = 0

    /// `fillName`: the parameter for index −1 (e.g. `decoder.mask_token`), nil if every
    /// index is a row.
    public init(fillName: String? = nil, dim: Int, layerID: Int = 0) {
        fill = fillName.map { Parameter($0, shape: [1, 1, dim], layerID: layerID) }
    }

    public var parameters: [Parameter] { fill.map { [$0] } ?? [] }

    /// x `[B·n, D]` (n rows per image); `index` `B·m` entries in −1 ..< n.
    @discardableResult
    public func forward(_ x: Tensor, batch: Int, index: [Int32]) -> Tensor {
        let n = x.shape[0] / batch, D = x.count / x.shape[0], m = index.count / batch
        precondition(m * batch == index.count, "TokenGather: \(index.count) indices for \(batch) images")
        self.index = index; self.rowsIn = n; self.batch = batch
        output.resize([batch * m, D])
        let X = x.data, O = output.data
        for q in 0..<(batch * m) {
            let i = Int(index[q]), b = q / m
            if i < 0 {
                guard let fill else { preconditionFailure("TokenGather: index −1 without a fill token") }
                (O + q * D).update(from: fill.value.data, count: D)
            } else {
                precondition(i < n, "TokenGather: index \(i) outside 0..<\(n)")
                (O + q * D).update(from: X + (b * n + i) * D, count: D)
            }
        }
        return output
    }

    /// d out → d x `[B·n, D]`; accumulates the fill token's gradient.
    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let m = index.count / batch, D = dy.count / index.count
        gradInput.resize([batch * rowsIn, D], zeroed: true)
        let G = dy.data, dX = gradInput.data
        for q in 0..<(batch * m) {
            let i = Int(index[q]), b = q / m
            if i < 0 { Kernels.add(G + q * D, into: fill!.grad.data, D) }
            else { Kernels.add(G + q * D, into: dX + (b * rowsIn + i) * D, D) }
        }
        return gradInput
    }
}
