import Foundation

/// 16-lane float vectors: one AVX-512 register, or two AVX2 registers.
public typealias V16 = SIMD16<Float>

@inlinable @inline(__always) public func vload(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}

@inlinable @inline(__always) public func vstore(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
}

/// Loads `n < 16` floats, the other lanes `fill`.
@inlinable @inline(__always) public func vloadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> V16 {
    var v = V16(repeating: fill)
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inlinable @inline(__always) public func vstorePartial(_ v: V16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// Lane-wise max/min as a compare and blend: the stdlib's generic `pointwiseMax` compiled
/// to a per-lane scalar loop through the stack for 16-lane vectors on AVX2.
@inlinable @inline(__always) public func vmaxv(_ a: V16, _ b: V16) -> V16 { a.replacing(with: b, where: a .< b) }
@inlinable @inline(__always) public func vminv(_ a: V16, _ b: V16) -> V16 { a.replacing(with: b, where: b .< a) }

/// Horizontal sum by halving (16 → 8 → 4 → 2 → 1 lanes). `SIMD16.sum()` compiles to a
/// spill and 16 scalar loads that stall on store forwarding, which dominated short rows.
@inlinable @inline(__always) public func hsum(_ v: V16) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

@inlinable @inline(__always) public func hmax(_ v: V16) -> Float {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.lowHalf .< v.highHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.lowHalf .< a.highHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.lowHalf .< b.highHalf)
    return max(c[0], c[1])
}

/// exp(x) with relative error below 3e-7 on [-87, 88]: Cody–Waite range reduction and the
/// Cephes expf polynomial. Inputs are clamped to that range (exp(-inf) ≈ 1e-38, not 0).
@inlinable @inline(__always) public func vexp(_ x0: V16) -> V16 {
    let x = vminv(vmaxv(x0, V16(repeating: -87.33654)), V16(repeating: 88.37626))
    // Adding 1.5·2^23 rounds x·log2(e) to an integer n that then sits in the low mantissa
    // bits, ready to become the exponent of 2^n without a float→int conversion.
    let magic = V16(repeating: 12_582_912)
    let big = magic.addingProduct(x, V16(repeating: 1.442_695_04))
    let n = big - magic
    var r = x.addingProduct(n, V16(repeating: -0.693_359_375))
    r = r.addingProduct(n, V16(repeating: 2.121_944_4e-4))
    var p = V16(repeating: 1.987_569_15e-4)
    p = V16(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
    p = V16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = V16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = V16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = V16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    p = (r + 1).addingProduct(p, r * r)
    let bits = unsafeBitCast(big, to: SIMD16<UInt32>.self) &- unsafeBitCast(magic, to: SIMD16<UInt32>.self)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: V16.self)
    return p * scale
}

/// erf(x) with absolute error below 5e-7: the rational minimax approximation Eigen and
/// XLA use for float, on x clamped to [-4, 4] (erf(±4) rounds to ±1 in float).
@inlinable @inline(__always) public func verf(_ x0: V16) -> V16 {
    let x = vminv(vmaxv(x0, V16(repeating: -4)), V16(repeating: 4))
    let x2 = x * x
    var p = V16(repeating: -2.726_142_258_013_06e-10)
    p = V16(repeating: 2.770_681_424_959_02e-08).addingProduct(p, x2)
    p = V16(repeating: -2.101_024_020_825_08e-06).addingProduct(p, x2)
    p = V16(repeating: -5.692_506_394_623_46e-05).addingProduct(p, x2)
    p = V16(repeating: -7.349_906_303_268_55e-04).addingProduct(p, x2)
    p = V16(repeating: -2.954_599_808_540_25e-03).addingProduct(p, x2)
    p = V16(repeating: -1.609_603_332_624_15e-02).addingProduct(p, x2)
    p = p * x
    var q = V16(repeating: -1.456_607_184_649_96e-05)
    q = V16(repeating: -2.133_740_552_789_05e-04).addingProduct(q, x2)
    q = V16(repeating: -1.682_826_974_382_03e-03).addingProduct(q, x2)
    q = V16(repeating: -7.373_329_167_204_68e-03).addingProduct(q, x2)
    q = V16(repeating: -1.426_473_905_141_89e-02).addingProduct(q, x2)
    return p / q
}

/// Applies `f` to `n` floats of `x`, writing `y` (may alias `x`), 16 at a time.
@inlinable @inline(__always)
public func vmap(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V16) -> V16) {
    var i = 0
    while i + 16 <= n { vstore(f(vload(x + i)), y + i); i += 16 }
    if i < n { vstorePartial(f(vloadPartial(x + i, n - i)), y + i, n - i) }
}

/// `f(a, b)` over two inputs, 16 at a time.
@inlinable @inline(__always)
public func vmap2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                  _ n: Int, _ f: (V16, V16) -> V16) {
    var i = 0
    while i + 16 <= n { vstore(f(vload(a + i), vload(b + i)), y + i); i += 16 }
    if i < n { vstorePartial(f(vloadPartial(a + i, n - i), vloadPartial(b + i, n - i)), y + i, n - i) }
}

/// Σ x[i] for a short row, accumulated in 16 lanes then reduced (fixed order).
@inlinable @inline(__always)
public func vsum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V16(repeating: 0), i = 0
    while i + 16 <= n { acc += vload(x + i); i += 16 }
    var s = hsum(acc)
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Σ a[i]·b[i], same order guarantees as `vsum`.
@inlinable @inline(__always)
public func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V16(repeating: 0), i = 0
    while i + 16 <= n { acc = acc.addingProduct(vload(a + i), vload(b + i)); i += 16 }
    var s = hsum(acc)
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

@inlinable @inline(__always)
public func vmax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V16(repeating: -.infinity), i = 0
    while i + 16 <= n { acc = vmaxv(acc, vload(x + i)); i += 16 }
    var m = hmax(acc)
    while i < n { m = max(m, x[i]); i += 1 }
    return m
}

public enum Kernels {
    /// Row-wise softmax in place: x[r, :] ← softmax(scale · x[r, :]).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float = 1) {
        for r in 0..<rows {
            let row = x + r * cols
            let m = vmax(row, cols) * scale
            let vs = V16(repeating: scale), vm = V16(repeating: m)
            vmap(row, row, cols) { vexp($0 * vs - vm) }
            let inv = 1 / vsum(row, cols)
            let vi = V16(repeating: inv)
            vmap(row, row, cols) { $0 * vi }
        }
    }

    /// y += x
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.elementwise(n) { lo, hi in vmap2(x + lo, y + lo, y + lo, hi - lo) { $0 + $1 } }
    }

    /// y += a·x
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let va = V16(repeating: a)
        Parallel.elementwise(n) { lo, hi in vmap2(x + lo, y + lo, y + lo, hi - lo) { $1.addingProduct(va, $0) } }
    }

    /// y = x
    public static func copy(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        y.update(from: x, count: n)
    }

    /// out[c] (+)= Σ_r x[r, c]: column sums of a row-major matrix, e.g. a bias gradient.
    /// Threads split the columns, so every sum runs over the rows in the same order.
    public static func columnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                  into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let blocks = (cols + 15) / 16
        Parallel.chunks(blocks, minPerChunk: rows * cols < 1 << 16 ? blocks : 1) { lo, hi in
            for blk in lo..<hi {
                let c0 = blk * 16, w = min(16, cols - c0)
                var acc = V16(repeating: 0)
                if w == 16 {
                    for r in 0..<rows { acc += vload(x + r * cols + c0) }
                } else {
                    for r in 0..<rows { acc += vloadPartial(x + r * cols + c0, w) }
                }
                if accumulate { acc += vloadPartial(out + c0, w) }
                vstorePartial(acc, out + c0, w)
            }
        }
    }
}
