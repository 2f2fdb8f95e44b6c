/// Exact squared Euclidean distance transform in linear time (Felzenszwalb & Huttenlocher,
/// "Distance Transforms of Sampled Functions", 2012): the 2-D transform is the 1-D lower
/// envelope of parabolas applied along every row, then along every column of the result.
/// Distances are between pixel centres; values are exact integers held in Double.
public enum DistanceTransform {
    /// For each pixel, the squared distance to the nearest pixel where `isSource` is true
    /// (`.infinity` when there is none). Row-major, `height × width`.
    public static func squaredEuclidean(width: Int, height: Int, isSource: (Int) -> Bool) -> [Double] {
        precondition(width > 0 && height > 0)
        var d = [Double](repeating: 0, count: width * height)
        for i in 0..<(width * height) { d[i] = isSource(i) ? 0 : .infinity }
        let n = max(width, height)
        var f = [Double](repeating: 0, count: n), out = f
        var v = [Int](repeating: 0, count: n), z = [Double](repeating: 0, count: n + 1)
        for y in 0..<height {
            for x in 0..<width { f[x] = d[y * width + x] }
            lowerEnvelope(f, count: width, into: &out, v: &v, z: &z)
            for x in 0..<width { d[y * width + x] = out[x] }
        }
        for x in 0..<width {
            for y in 0..<height { f[y] = d[y * width + x] }
            lowerEnvelope(f, count: height, into: &out, v: &v, z: &z)
            for y in 0..<height { d[y * width + x] = out[y] }
        }
        return d
    }

    /// out[q] = min over p of (q − p)² + f[p]. Infinite samples are left out of the
    /// envelope (FH use a large finite value; skipping them keeps the arithmetic exact and
    /// makes a row with no source come out as infinity).
    static func lowerEnvelope(_ f: [Double], count n: Int, into out: inout [Double],
                              v: inout [Int], z: inout [Double]) {
        var k = -1
        for q in 0..<n where f[q].isFinite {
            let fq = f[q] + Double(q * q)
            var s = -Double.infinity
            while k >= 0 {
                let p = v[k]
                s = (fq - (f[p] + Double(p * p))) / Double(2 * (q - p))
                if s <= z[k] { k -= 1 } else { break }
            }
            k += 1
            v[k] = q
            z[k] = k == 0 ? -.infinity : s
            z[k + 1] = .infinity
        }
        if k < 0 {
            for q in 0..<n { out[q] = .infinity }
            return
        }
        var j = 0
        for q in 0..<n {
            while z[j + 1] < Double(q) { j += 1 }
            let dq = Double(q - v[j])
            out[q] = dq * dq + f[v[j]]
        }
    }
}
