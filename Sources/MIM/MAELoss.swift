import NN
import Tensor

/// MAE's `forward_loss`: the target is the image patchified channel-fastest
/// (t[l, (dy·p + dx)·C + c], unlike SimMIM's c·p² + dy·p + dx), optionally standardised per
/// patch with the unbiased variance (`norm_pix_loss`); the loss is the per-patch mean
/// squared error averaged over the removed patches (weights 1), visible ones not counted.
public final class MAELoss: Objective {
    public let channels: Int
    public let patchSize: Int
    public let normPix: Bool
    /// The last forward's target rows `[B·L, p²·C]` (`output.target`).
    public let target = Tensor(shape: [0])
    /// The last forward's per-patch mean squared error over every patch (`output.loss_per_patch`).
    public private(set) var lossPerPatch: [Float] = []

    public init(channels: Int, patchSize: Int, normPix: Bool) {
        self.channels = channels
        self.patchSize = patchSize
        self.normPix = normPix
    }

    /// Patch rows in the patch embedding's order (c·p² + q) → MAE's (q·C + c), q = dy·p + dx.
    public static func patchify(_ patches: Tensor, channels C: Int, into out: Tensor) {
        let rows = patches.shape[0], P = patches.count / rows, Q = P / C
        out.resize([rows, P])
        let X = patches.data, O = out.data
        Parallel.chunks(rows, minPerChunk: 64) { lo, hi in
            for r in lo..<hi { for c in 0..<C { for q in 0..<Q { O[r * P + q * C + c] = X[r * P + c * Q + q] } } }
        }
    }

    public func forward(pred: Tensor, patches: Tensor, weights: [Float], grad: Tensor) -> Double {
        MAELoss.patchify(patches, channels: channels, into: target)
        if normPix { ReconstructionLoss.standardizeRows(target, into: target) }
        let rows = weights.count, P = target.count / rows
        var pp = [Float](repeating: 0, count: rows)
        let X = pred.data, T = target.data
        for r in 0..<rows {
            var s = 0.0
            for k in 0..<P { let d = Double(X[r * P + k]) - Double(T[r * P + k]); s += d * d }
            pp[r] = Float(s / Double(P))
        }
        lossPerPatch = pp
        let removed = weights.reduce(0.0) { $0 + Double($1) }
        return ReconstructionLoss.regression(.l2, pred: pred, target: target, weights: weights,
                                             denominator: removed * Double(P), grad: grad)
    }
}
