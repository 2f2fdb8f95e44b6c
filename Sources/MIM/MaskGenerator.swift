import Tensor

/// Draws masks of one `MaskSpec`. Every strategy works on the grid of mask patches and the
/// result is upsampled to the model-patch (token) grid, as SimMIM's `MaskGenerator` does, so
/// `next` always returns g×g values (g = imageSize / modelPatchSize, row-major, 1 = masked).
/// All randomness comes from the caller's `PRNG`, so a seed names a sequence of masks.
public struct MaskGenerator: Sendable {
    public let spec: MaskSpec
    /// Mask patches each mask holds (random, block-wise target): `ceil(ratio × N)`.
    public let maskCount: Int
    /// Side of the square, in mask patches: round(√(ratio × N)) clamped to [1, side].
    public let squareSide: Int
    private let blockwise: BlockwiseMaskGenerator
    /// The mask-patch grid of the latest draw (s×s, 0/1); reused between draws.
    public private(set) var maskPatchGrid: [UInt8]

    public init(_ spec: MaskSpec) throws {
        try spec.validate()
        self.spec = spec
        let side = spec.maskGridSize
        maskCount = spec.maskCount
        let k = (spec.maskRatio * Double(spec.maskPatchCount)).squareRoot().rounded()
        squareSide = min(side, max(1, Int(k)))
        // BEiT's class defaults (min 4 patches per block, aspect in [0.3, 1/0.3]); the
        // minimum of 4 rather than BEiT's pre-training 16 lets it work on the tiny grids
        // (4×4, 8×8) of 32-px images.
        blockwise = BlockwiseMaskGenerator(height: side, width: side, numMaskingPatches: maskCount)
        maskPatchGrid = [UInt8](repeating: 0, count: side * side)
    }

    /// Number of tokens (g²) each mask covers.
    public var tokenCount: Int { spec.gridSize * spec.gridSize }

    /// The next mask on the model-patch grid.
    public mutating func next(_ rng: inout PRNG) -> [Float] {
        var out = [Float](repeating: 0, count: tokenCount)
        out.withUnsafeMutableBufferPointer { fill($0.baseAddress!, &rng) }
        return out
    }

    /// Writes the next mask (g² floats) at `out`, e.g. one row of a batch's mask.
    public mutating func fill(_ out: UnsafeMutablePointer<Float>, _ rng: inout PRNG) {
        drawMaskPatchGrid(&rng)
        let s = spec.maskGridSize, g = spec.gridSize, scale = spec.scale
        maskPatchGrid.withUnsafeBufferPointer { m in
            for ty in 0..<g {
                let row = (ty / scale) * s
                for tx in 0..<g { out[ty * g + tx] = Float(m[row + tx / scale]) }
            }
        }
    }

    /// Writes `batch` independent masks back to back (batch × g² floats).
    public mutating func fill(_ out: UnsafeMutablePointer<Float>, batch: Int, _ rng: inout PRNG) {
        for b in 0..<batch { fill(out + b * tokenCount, &rng) }
    }

    private mutating func drawMaskPatchGrid(_ rng: inout PRNG) {
        let side = spec.maskGridSize, n = side * side
        for i in 0..<n { maskPatchGrid[i] = 0 }
        switch spec.type {
        case .random:
            // As the official generator: the first `count` entries of a permutation.
            let perm = rng.permutation(n)
            for i in 0..<maskCount { maskPatchGrid[perm[i]] = 1 }
        case .square:
            let k = squareSide
            let top = rng.int(side - k + 1), left = rng.int(side - k + 1)
            for y in top..<(top + k) { for x in left..<(left + k) { maskPatchGrid[y * side + x] = 1 } }
        case .blockwise:
            let generator = blockwise
            _ = generator.generate(into: &maskPatchGrid, &rng)
        case .grid:
            for y in 0..<side { for x in 0..<side where y % 2 == 1 || x % 2 == 1 { maskPatchGrid[y * side + x] = 1 } }
        }
    }

    /// Nearest-neighbour upsampling of a g×g token mask to pixels (each token covers
    /// patchSize×patchSize pixels), the layout AvgDist measures.
    public static func pixelMask(_ tokenMask: [Float], gridSize g: Int, patchSize p: Int) -> [Float] {
        precondition(tokenMask.count == g * g, "token mask has \(tokenMask.count) values, expected \(g)×\(g)")
        let side = g * p
        var out = [Float](repeating: 0, count: side * side)
        for y in 0..<side {
            let row = (y / p) * g
            for x in 0..<side { out[y * side + x] = tokenMask[row + x / p] }
        }
        return out
    }
}
