import Foundation
import Tensor
import XCTest

final class KernelTests: XCTestCase {
    func testVexpRelativeError() {
        var worst = 0.0
        var x: Float = -80
        while x < 80 {
            let v = vexp(V16(repeating: x))[0]
            worst = max(worst, abs(Double(v) - Foundation.exp(Double(x))) / Foundation.exp(Double(x)))
            x += 0.0137
        }
        XCTAssertLessThan(worst, 3e-7)
        XCTAssertEqual(vexp(V16(repeating: -.infinity))[0], 0, accuracy: 1e-37)
    }

    func testVerfAbsoluteError() {
        var worst = 0.0
        var x: Float = -6
        while x < 6 {
            worst = max(worst, abs(Double(verf(V16(repeating: x))[0]) - erf(Double(x))))
            x += 0.001
        }
        XCTAssertLessThan(worst, 5e-7)
    }

    func testReductions() {
        var rng = PRNG(seed: 1)
        for n in [1, 15, 16, 17, 64, 100] {
            let a = (0..<n).map { _ in rng.normal() }, b = (0..<n).map { _ in rng.normal() }
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                XCTAssertEqual(vsum(pa.baseAddress!, n), a.reduce(0, +), accuracy: 1e-4)
                XCTAssertEqual(vmax(pa.baseAddress!, n), a.max()!)
                XCTAssertEqual(vdot(pa.baseAddress!, pb.baseAddress!, n), zip(a, b).map(*).reduce(0, +), accuracy: 1e-4)
            } }
        }
    }

    func testSoftmaxRows() {
        var rng = PRNG(seed: 2)
        let (rows, cols) = (5, 37)
        var x = (0..<(rows * cols)).map { _ in rng.normal(std: 4) }
        let orig = x
        x.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: rows, cols: cols, scale: 0.5) }
        for r in 0..<rows {
            let row = orig[(r * cols)..<((r + 1) * cols)].map { Double($0) * 0.5 }
            let m = row.max()!, z = row.map { Foundation.exp($0 - m) }.reduce(0, +)
            for c in 0..<cols {
                XCTAssertEqual(Double(x[r * cols + c]), Foundation.exp(row[c] - m) / z, accuracy: 1e-6)
            }
        }
    }

    func testColumnSums() {
        var rng = PRNG(seed: 3)
        let (rows, cols) = (300, 37)
        let x = Tensor(shape: [rows, cols]); rng.fillNormal(x, std: 1)
        let out = Tensor(shape: [cols]); out.fill(1)
        Kernels.columnSums(x.data, rows: rows, cols: cols, into: out.data, accumulate: true)
        for c in 0..<cols {
            let s = (0..<rows).reduce(1.0) { $0 + Double(x[$1 * cols + c]) }
            XCTAssertEqual(Double(out[c]), s, accuracy: 1e-3)
        }
    }

    /// Every transpose combination, small (one call) and large (split across threads),
    /// against a naive triple loop.
    func testSgemmAgainstNaive() {
        var rng = PRNG(seed: 4)
        for (m, n, k) in [(3, 5, 7), (130, 90, 150), (40, 300, 120)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = Tensor(shape: ta ? [k, m] : [m, k]), b = Tensor(shape: tb ? [n, k] : [k, n])
                rng.fillNormal(a, std: 1); rng.fillNormal(b, std: 1)
                let c = Tensor(shape: [m, n]); c.fill(0.5)
                for threads in [1, 2] {
                    c.fill(0.5)
                    BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, a: a.data, lda: ta ? m : k,
                               b: b.data, ldb: tb ? k : n, beta: 1, c: c.data, ldc: n, threads: threads)
                    for i in stride(from: 0, to: m, by: 7) { for j in stride(from: 0, to: n, by: 5) {
                        var s = 0.0
                        for p in 0..<k {
                            s += Double(ta ? a[p * m + i] : a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j])
                        }
                        XCTAssertEqual(Double(c[i * n + j]), 2 * s + 0.5, accuracy: 1e-3 * max(1, abs(s)),
                                       "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) threads\(threads)")
                    } }
                }
            } }
        }
    }

    func testTensorResizeKeepsStorage() {
        let t = Tensor(shape: [10, 10])
        let p = t.data
        t.resize([5, 4])
        XCTAssertEqual(t.data, p)
        XCTAssertEqual(t.count, 20)
        t.resize([20, 20])
        XCTAssertEqual(t.count, 400)
    }
}

final class PRNGTests: XCTestCase {
    func testDeterministicBySeed() {
        var a = PRNG(seed: 9), b = PRNG(seed: 9), c = PRNG(seed: 10)
        let xa = (0..<100).map { _ in a.nextUInt64() }
        XCTAssertEqual(xa, (0..<100).map { _ in b.nextUInt64() })
        XCTAssertNotEqual(xa, (0..<100).map { _ in c.nextUInt64() })
        XCTAssertEqual(PRNG(seed: 1).fork("mask").seed, PRNG(seed: 1).fork("mask").seed)
        XCTAssertNotEqual(PRNG(seed: 1).fork("mask").seed, PRNG(seed: 1).fork("augment").seed)
    }

    func testDistributions() {
        var r = PRNG(seed: 5)
        let n = 200_000
        let u = (0..<n).map { _ in Double(r.uniform()) }
        XCTAssert(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.005)
        let z = (0..<n).map { _ in Double(r.normal()) }
        let mean = z.reduce(0, +) / Double(n)
        let sd = (z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(sd, 1, accuracy: 0.01)
        let t = (0..<n).map { _ in r.truncatedNormal(std: 0.02) }
        XCTAssert(t.allSatisfy { abs($0) <= 0.04 })
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.int(7)] += 1 }
        XCTAssert(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
    }

    func testPermutation() {
        var r = PRNG(seed: 6)
        for n in [0, 1, 2, 36, 1000] {
            XCTAssertEqual(r.permutation(n).sorted(), Array(0..<n))
        }
        // Every position receives every value about equally often.
        var firsts = [Int](repeating: 0, count: 4)
        for _ in 0..<40_000 { firsts[r.permutation(4)[0]] += 1 }
        XCTAssert(firsts.allSatisfy { abs($0 - 10_000) < 400 }, "\(firsts)")
    }
}
