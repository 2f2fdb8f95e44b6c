import Tensor

/// LayerNorm over the last dimension: (x − mean) / sqrt(var_biased + eps) · weight + bias.
public final class LayerNorm: Module {
    public let weight: Parameter
    public let bias: Parameter
    public let dim: Int
    public let eps: Float

    public let output = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    /// x̂ = (x − mean)·rstd, kept for backward, and 1/σ per row.
    private let xhat = Tensor(shape: [0])
    private let rstd = Tensor(shape: [0])
    private let scratch = Tensor(shape: [0])

    /// Row reductions for the parameter gradients are split into this many fixed chunks, so
    /// the summation order does not depend on the thread count.
    static let reductionChunks = 8

    public init(_ name: String, dim: Int, eps: Float = 1e-6, layerID: Int = 0) {
        self.dim = dim
        self.eps = eps
        weight = Parameter(name + ".weight", shape: [dim], layerID: layerID)
        bias = Parameter(name + ".bias", shape: [dim], layerID: layerID)
        weight.value.fill(1)
    }

    public var parameters: [Parameter] { [weight, bias] }

    @discardableResult
    public func forward(_ x: Tensor) -> Tensor {
        let rows = x.count / dim, d = dim
        output.resize(x.shape)
        xhat.resize(x.shape)
        rstd.resize([rows])
        let w = weight.value.data, b = bias.value.data, eps = eps
        let X = x.data, Y = output.data, XH = xhat.data, RS = rstd.data
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / d)) { lo, hi in
            for r in lo..<hi {
                let xr = X + r * d
                let mean = vsum(xr, d) / Float(d)
                let vm = V16(repeating: mean)
                var acc = V16(repeating: 0), i = 0
                while i + 16 <= d { let c = vload(xr + i) - vm; acc = acc.addingProduct(c, c); i += 16 }
                var ss = hsum(acc)
                while i < d { let c = xr[i] - mean; ss += c * c; i += 1 }
                let rs = 1 / (ss / Float(d) + eps).squareRoot()
                RS[r] = rs
                let vr = V16(repeating: rs)
                vmap(xr, XH + r * d, d) { ($0 - vm) * vr }
                // y = x̂·w + b
                var j = 0
                while j + 16 <= d {
                    vstore(vload(b + j).addingProduct(vload(XH + r * d + j), vload(w + j)), Y + r * d + j)
                    j += 16
                }
                while j < d { Y[r * d + j] = XH[r * d + j] * w[j] + b[j]; j += 1 }
            }
        }
        return output
    }

    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor {
        let rows = dy.count / dim, d = dim
        gradInput.resize(dy.shape)
        let w = weight.value.data, DY = dy.data, XH = xhat.data, RS = rstd.data, DX = gradInput.data
        // dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)), g = dy·w
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / d)) { lo, hi in
            for r in lo..<hi {
                let dyr = DY + r * d, xr = XH + r * d
                var s1 = V16(repeating: 0), s2 = V16(repeating: 0), i = 0
                while i + 16 <= d {
                    let g = vload(dyr + i) * vload(w + i)
                    s1 += g; s2 = s2.addingProduct(g, vload(xr + i)); i += 16
                }
                var a = hsum(s1), c = hsum(s2)
                while i < d { let g = dyr[i] * w[i]; a += g; c += g * xr[i]; i += 1 }
                let ma = V16(repeating: a / Float(d)), mc = V16(repeating: c / Float(d)), vr = V16(repeating: RS[r])
                var j = 0
                while j + 16 <= d {
                    let g = vload(dyr + j) * vload(w + j)
                    vstore((g - ma - vload(xr + j) * mc) * vr, DX + r * d + j); j += 16
                }
                while j < d {
                    let g = dyr[j] * w[j]
                    DX[r * d + j] = (g - a / Float(d) - xr[j] * c / Float(d)) * RS[r]; j += 1
                }
            }
        }
        // dw += Σ dy·x̂, db += Σ dy: partial sums over fixed row chunks, then added in order.
        let chunks = min(LayerNorm.reductionChunks, rows)
        scratch.resize([chunks, 2 * d])
        let S = scratch.data
        Parallel.forEach(chunks) { c in
            let lo = rows * c / chunks, hi = rows * (c + 1) / chunks
            let sw = S + c * 2 * d, sb = sw + d
            sw.update(repeating: 0, count: 2 * d)
            for r in lo..<hi {
                let dyr = DY + r * d, xr = XH + r * d
                var j = 0
                while j + 16 <= d {
                    let g = vload(dyr + j)
                    vstore(vload(sw + j).addingProduct(g, vload(xr + j)), sw + j)
                    vstore(vload(sb + j) + g, sb + j)
                    j += 16
                }
                while j < d { sw[j] += dyr[j] * xr[j]; sb[j] += dyr[j]; j += 1 }
            }
        }
        let gw = weight.grad.data, gb = bias.grad.data
        for c in 0..<chunks {
            let sw = S + c * 2 * d, sb = sw + d
            for j in 0..<d { gw[j] += sw[j]; gb[j] += sb[j] }
        }
        return gradInput
    }
}
