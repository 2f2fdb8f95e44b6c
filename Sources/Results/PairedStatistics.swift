import Foundation

/// Student's t distribution, computed (no table): the CDF from the regularised incomplete
/// beta function, the quantile by bisection on the CDF. Good to ~1e-10, far below the
/// tables' 0.1-point rounding.
public enum StudentT {
    /// P(T ≤ t) for T ~ t with `df` degrees of freedom (df > 0).
    public static func cdf(_ t: Double, df: Double) -> Double {
        precondition(df > 0, "degrees of freedom must be positive")
        let x = df / (df + t * t)
        let tail = 0.5 * regularizedIncompleteBeta(x, a: df / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The t with P(T ≤ t) = p, for 0 < p < 1.
    public static func quantile(_ p: Double, df: Double) -> Double {
        precondition(p > 0 && p < 1, "p must be in (0, 1)")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p, df: df) }
        var lo = 0.0, hi = 1.0
        while cdf(hi, df: df) < p { lo = hi; hi *= 2 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid, df: df) < p { lo = mid } else { hi = mid }
            if hi - lo <= 1e-12 * max(1, hi) { break }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), by the continued fraction (modified Lentz), on the side where it converges fast.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let lnPowers: Double = a * log(x) + b * log(1 - x)
        let lnFront = lnPowers - lnBeta
        if x < (a + 1) / (a + b + 2) { return exp(lnFront) * betaContinuedFraction(x, a: a, b: b) / a }
        return 1 - exp(lnFront) * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return h
    }
}

/// A paired comparison of two cells of a table: the runs of the same seed share
/// initialisation, data order and mask stream, so the per-seed difference a − b cancels
/// what the seeds have in common. Its mean has a two-sided 95% interval
/// mean ± t(0.975, n − 1) · sd / √n (sd: sample standard deviation of the differences).
public struct PairedDifference: Equatable, Sendable {
    /// Seeds present (done, with the metric) in both cells.
    public let n: Int
    /// Mean of a − b over those seeds; nil when n = 0.
    public let mean: Double?
    /// Sample standard deviation of the differences; nil when n < 2.
    public let sd: Double?
    /// The 95% interval of the mean difference; nil when n < 2 (no interval from one pair).
    public let low: Double?
    public let high: Double?

    public static let confidence = 0.95

    /// Pairs `a` and `b` by key (the seed); keys present in only one are left out.
    public init(_ a: [String: Double], _ b: [String: Double]) {
        let seeds = Set(a.keys).intersection(b.keys).sorted()
        self.init(differences: seeds.map { a[$0]! - b[$0]! })
    }

    public init(differences d: [Double]) {
        n = d.count
        guard n > 0 else { mean = nil; sd = nil; low = nil; high = nil; return }
        let m = d.reduce(0, +) / Double(n)
        mean = m
        guard n > 1 else { sd = nil; low = nil; high = nil; return }
        let s = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1)).squareRoot()
        sd = s
        let half = StudentT.quantile(0.5 + PairedDifference.confidence / 2, df: Double(n - 1)) * s / Double(n).squareRoot()
        low = m - half; high = m + half
    }

    /// "+1.2 [−0.5, +2.9]", "+1.2" (one pair) or "—" (none), to `decimals` places.
    public func text(decimals: Int = 1) -> String {
        guard let mean else { return TableRenderer.empty }
        let f = { (v: Double) -> String in
            let s = String(format: "%+.\(decimals)f", v)
            return Double(s) == 0 ? String(format: "%.\(decimals)f", 0.0) : s   // no "+0.0" / "-0.0"
        }
        guard let low, let high else { return f(mean) }
        return "\(f(mean)) [\(f(low)), \(f(high))]"
    }
}
