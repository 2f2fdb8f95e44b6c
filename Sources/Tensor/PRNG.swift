import Foundation

/// mimlab's only source of randomness: xoshiro256** (Blackman & Vigna) seeded through
/// SplitMix64, so that a seed names one stream on every platform and build.
///
/// - `nextUInt64`: the raw generator.
/// - `uniform()`: a Float in [0, 1) from the top 24 bits (every value equally likely).
/// - `normal()`: Box–Muller in Double, rounded to Float; both values of a pair are used.
/// - `truncatedNormal(std:, bound:)`: resamples until |z| ≤ bound·std (timm's trunc_normal_
///   with a = -2std, b = 2std by default).
/// - `permutation(n)`: Fisher–Yates with unbiased bounded integers (Lemire's method).
/// - `fork(_:)`: an independent child stream for a named purpose (e.g. "mask", "augment"),
///   so adding draws in one place does not shift the numbers of another.
public struct PRNG: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(&sm), splitmix(&sm), splitmix(&sm), splitmix(&sm))
    }

    /// A child generator whose stream depends only on this generator's seed and `label`.
    public func fork(_ label: String) -> PRNG {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325   // FNV-1a over the label, mixed with the seed
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return PRNG(seed: h ^ (seed &* 0x9E37_79B9_7F4A_7C15))
    }

    public func fork(_ index: Int) -> PRNG { fork("#\(index)") }

    /// Everything that decides the numbers still to come, so a stream can be saved mid-way
    /// (a training checkpoint) and continued exactly where it was.
    public struct State: Equatable, Sendable, LosslessStringConvertible {
        public var seed: UInt64
        public var words: (UInt64, UInt64, UInt64, UInt64)
        /// The second value of the last Box–Muller pair, not yet returned.
        public var spareNormal: Double?

        public static func == (a: State, b: State) -> Bool {
            a.seed == b.seed && a.words == b.words && a.spareNormal?.bitPattern == b.spareNormal?.bitPattern
        }

        /// Hex words, `seed s0 s1 s2 s3 [spare-normal bits]`: exact, and no UInt64 goes
        /// through a Double on the way through JSON or safetensors metadata.
        public var description: String {
            var f = [seed, words.0, words.1, words.2, words.3]
            if let z = spareNormal { f.append(z.bitPattern) }
            return f.map { String($0, radix: 16) }.joined(separator: " ")
        }

        public init?(_ description: String) {
            let fields = description.split(separator: " ", omittingEmptySubsequences: false)
            let v = fields.compactMap { UInt64($0, radix: 16) }
            // An all-zero xoshiro state only ever yields zeros: not a state this type makes.
            guard v.count == fields.count, v.count == 5 || v.count == 6, v[1...4].contains(where: { $0 != 0 }) else { return nil }
            seed = v[0]
            words = (v[1], v[2], v[3], v[4])
            spareNormal = v.count == 6 ? Double(bitPattern: v[5]) : nil
        }

        init(seed: UInt64, words: (UInt64, UInt64, UInt64, UInt64), spareNormal: Double?) {
            self.seed = seed; self.words = words; self.spareNormal = spareNormal
        }
    }

    public var state: State { State(seed: seed, words: s, spareNormal: spareNormal) }

    /// Continues the stream that `state` was taken from.
    public init(state: State) {
        seed = state.seed
        s = state.words
        spareNormal = state.spareNormal
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func nextUInt64() -> UInt64 {
        let result = PRNG.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = PRNG.rotl(s.3, 45)
        return result
    }

    @inline(__always)
    public mutating func uniform() -> Float { Float(nextUInt64() >> 40) * 0x1p-24 }

    @inline(__always)
    public mutating func uniformDouble() -> Double { Double(nextUInt64() >> 11) * 0x1p-53 }

    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Unbiased integer in 0..<n.
    public mutating func int(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var m = nextUInt64().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = nextUInt64().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(range.upperBound - range.lowerBound + 1)
    }

    public mutating func normalDouble() -> Double {
        if let z = spareNormal { spareNormal = nil; return z }
        var u1 = uniformDouble()
        while u1 <= 0 { u1 = uniformDouble() }
        let u2 = uniformDouble()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spareNormal = r * Foundation.sin(2 * .pi * u2)
        return r * Foundation.cos(2 * .pi * u2)
    }

    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        mean + std * Float(normalDouble())
    }

    public mutating func truncatedNormal(std: Float, bound: Float = 2) -> Float {
        while true {
            let z = normalDouble()
            if abs(z) <= Double(bound) { return std * Float(z) }
        }
    }

    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(i + 1)) }
        return p
    }

    public mutating func shuffle<T>(_ a: inout [T]) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(i + 1)) }
    }

    public mutating func fillNormal(_ t: Tensor, std: Float) {
        for i in 0..<t.count { t.data[i] = normal(std: std) }
    }

    public mutating func fillTruncatedNormal(_ t: Tensor, std: Float) {
        for i in 0..<t.count { t.data[i] = truncatedNormal(std: std) }
    }

    public mutating func fillUniform(_ t: Tensor, _ lo: Float, _ hi: Float) {
        for i in 0..<t.count { t.data[i] = uniform(lo, hi) }
    }
}
