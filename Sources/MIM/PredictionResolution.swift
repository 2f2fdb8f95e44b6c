import Tensor

/// SimMIM Table 3: the target is the image average-pooled from H×H to r×r. With the token
/// grid g dividing r, each token predicts an s×s block of target pixels (s = r/g) and each
/// target pixel is the mean of an f×f block of image pixels (f = p/s, p the patch size).
public enum PredictionResolution {
    /// Patch rows `[B·L, C·p²]` (PatchEmbed order, c·p² + y·p + x) → pooled target rows
    /// `[B·L, C·s²]` in the head's order, c·s² + dy·s + dx.
    public static func pool(_ patches: Tensor, channels C: Int, patchSize p: Int, side s: Int, into out: Tensor) {
        precondition(s >= 1 && p % s == 0, "PredictionResolution: side \(s) does not divide patch \(p)")
        let K = C * p * p, rows = patches.count / K, S = C * s * s, f = p / s
        out.resize([rows, S])
        let X = patches.data, O = out.data, inv = 1 / Float(f * f)
        Parallel.chunks(rows, minPerChunk: max(1, Parallel.elementwiseGrain / K)) { lo, hi in
            for r in lo..<hi {
                let x = X + r * K, o = O + r * S
                for c in 0..<C { for dy in 0..<s { for dx in 0..<s {
                    var sum: Float = 0
                    for a in 0..<f { for b in 0..<f { sum += x[c * p * p + (dy * f + a) * p + dx * f + b] } }
                    o[c * s * s + dy * s + dx] = sum * inv
                } } }
            }
        }
    }
}
