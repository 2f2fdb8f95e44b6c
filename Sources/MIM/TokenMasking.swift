import Tensor

/// MAE's `random_masking`: per image, sort L uniform noise values ascending and keep the
/// first K tokens (`ids_keep`, in noise order, which is the order the encoder sees them);
/// `ids_restore` is the inverse permutation (the rank of each token), and a token is
/// removed (mask 1) when its rank is ≥ K. Ties, undefined in the official code (torch's
/// argsort is not stable), are broken by token index.
public struct TokenMasking: Equatable, Sendable {
    public let batch: Int
    public let tokens: Int
    public let kept: Int
    /// `[B·K]`
    public let idsKeep: [Int32]
    /// `[B·L]`
    public let idsRestore: [Int32]
    /// `[B·L]`, 1 = removed.
    public let mask: [Float]

    public init(noise: [Float], batch: Int, kept: Int) {
        let L = noise.count / batch
        precondition(L * batch == noise.count && kept >= 0 && kept <= L, "TokenMasking: \(noise.count) noise values, \(batch) images, keep \(kept)")
        self.batch = batch; self.tokens = L; self.kept = kept
        var keep = [Int32](), restore = [Int32](repeating: 0, count: batch * L), mask = [Float](repeating: 0, count: batch * L)
        keep.reserveCapacity(batch * kept)
        for b in 0..<batch {
            let row = b * L
            let order = (0..<L).sorted { noise[row + $0] < noise[row + $1] || (noise[row + $0] == noise[row + $1] && $0 < $1) }
            for (rank, l) in order.enumerated() {
                restore[row + l] = Int32(rank)
                if rank < kept { keep.append(Int32(l)) } else { mask[row + l] = 1 }
            }
        }
        idsKeep = keep; idsRestore = restore; self.mask = mask
    }

    /// Fresh noise for `batch` images of `tokens` tokens (the official `torch.rand`).
    public static func draw(batch: Int, tokens: Int, kept: Int, _ rng: inout PRNG) -> TokenMasking {
        TokenMasking(noise: (0..<(batch * tokens)).map { _ in rng.uniform() }, batch: batch, kept: kept)
    }
}
