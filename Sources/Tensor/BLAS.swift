import CBLAS
import Foundation

/// Row-major single-precision matrix products on OpenBLAS.
///
/// OpenBLAS itself runs single-threaded: mimlab splits large products across `Parallel`
/// threads (by rows of C, or by columns when C is wide and short), each chunk a separate
/// single-threaded `cblas_sgemm`. This keeps one thread pool in the process (OpenBLAS's
/// idle workers spin and would steal the cores from the elementwise kernels) and makes the
/// split independent of OpenBLAS's heuristics.
///
/// The kernel OpenBLAS picks is fixed when the library loads: `OPENBLAS_CORETYPE` in the
/// environment overrides its CPU detection, and mimlab respects an explicit setting (it is
/// the user's choice, e.g. to match another machine); `mimlab bench` reports it.
public enum BLAS {
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    @inline(__always) static func ensureConfigured() { _ = configured }

    /// The OpenBLAS kernel family in use, e.g. "Cooperlake" or "Haswell".
    public static var corename: String {
        ensureConfigured()
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    public static var configString: String {
        ensureConfigured()
        return openblas_get_config().map { String(cString: $0) } ?? "unknown"
    }

    /// Below this many multiply-adds a product is not worth splitting.
    public static let splitGrain = 1 << 20

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major. op(A) is m×k, op(B) is k×n.
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             threads: Int = Parallel.threads) {
        ensureConfigured()
        if m == 0 || n == 0 { return }
        let work = m * n * k
        let parts = work < splitGrain ? 1 : threads
        if parts <= 1 {
            sgemm1(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        if m >= n || m >= 64 * parts {
            Parallel.chunks(m, threads: parts, minPerChunk: 16) { lo, hi in
                let aOff = transA ? lo : lo * lda
                sgemm1(transA, transB, hi - lo, n, k, alpha, a + aOff, lda, b, ldb, beta, c + lo * ldc, ldc)
            }
        } else {
            Parallel.chunks(n, threads: parts, minPerChunk: 16) { lo, hi in
                let bOff = transB ? lo * ldb : lo
                sgemm1(transA, transB, m, hi - lo, k, alpha, a, lda, b + bOff, ldb, beta, c + lo, ldc)
            }
        }
    }

    /// One single-threaded product; the building block for callers that parallelise over
    /// many small products themselves (attention heads).
    @inline(__always)
    public static func sgemm1(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                              _ a: UnsafePointer<Float>, _ lda: Int,
                              _ b: UnsafePointer<Float>, _ ldb: Int,
                              _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `count` independent products whose operands sit at fixed strides (attention:
    /// one product per (image, head)); the batch is spread across threads.
    public static func sgemmStridedBatched(transA: Bool = false, transB: Bool = false,
                                           m: Int, n: Int, k: Int, alpha: Float = 1,
                                           a: UnsafePointer<Float>, lda: Int, strideA: (Int) -> Int,
                                           b: UnsafePointer<Float>, ldb: Int, strideB: (Int) -> Int,
                                           beta: Float = 0,
                                           c: UnsafeMutablePointer<Float>, ldc: Int, strideC: (Int) -> Int,
                                           count: Int) {
        ensureConfigured()
        Parallel.forEach(count) { i in
            sgemm1(transA, transB, m, n, k, alpha, a + strideA(i), lda, b + strideB(i), ldb, beta,
                   c + strideC(i), ldc)
        }
    }
}
