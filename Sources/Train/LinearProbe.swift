import Foundation
import NN
import Tensor

/// Linear probing: the encoder is frozen, each image becomes one feature of its final-norm
/// tokens (`TokenPool`: the mean of the patch tokens, or the class token), features are standardised with the training split's statistics (MAE puts a
/// BatchNorm without affine parameters before the classifier: the same map at eval time),
/// and a linear softmax classifier is trained on them with AdamW. Features are computed
/// once, so the probe costs one forward pass per image.
public struct LinearProbe {
    public var phase: RunConfig.PhaseConfig
    public var seed: UInt64

    public init(phase: RunConfig.PhaseConfig, seed: UInt64) {
        self.phase = phase
        self.seed = seed
    }

    public struct Result: Sendable {
        public var top1: Double
        public var trainTop1: Double
        public var seconds: Double
        public var gflop: Double
    }

    /// Pooled features `[N, D]` of every image of `data`.
    public static func features(_ encoder: any ImageEncoder, _ data: EvaluationSource, pool: TokenPool = .mean,
                                batch: Int = EvaluationBatch.size) -> (Tensor, [Int32]) {
        let D = encoder.dim
        let out = Tensor(shape: [data.count, D])
        let images = Tensor(shape: [0]), pooled = Tensor(shape: [0])
        var labels: [Int32] = []
        var start = 0
        while start < data.count {
            let n = min(batch, data.count - start)
            labels += data.fill(start: start, count: n, images: images)
            var none: PRNG? = nil
            let z = encoder.forward(images, batch: n, rng: &none)
            // Tokens per image as encoded (Swin's last stage has fewer than its input).
            pool.forward(z, batch: n, tokens: z.shape[0] / n, prefix: encoder.prefixTokens, into: pooled)
            (out.data + start * D).update(from: pooled.data, count: n * D)
            start += n
        }
        return (out, labels)
    }

    public func run(_ encoder: any ImageEncoder, pool: TokenPool = .mean, train: EvaluationSource, test: EvaluationSource,
                    classes: Int, observer: TrainObserver = SilentObserver()) -> Result {
        let start = Clock.now()
        let (ftr, ytr) = LinearProbe.features(encoder, train, pool: pool)
        let (fte, yte) = LinearProbe.features(encoder, test, pool: pool)
        let D = encoder.dim, N = ytr.count
        // Standardise with the training split's mean and variance (eps as MAE's BatchNorm).
        var mean = [Float](repeating: 0, count: D), inv = [Float](repeating: 0, count: D)
        for d in 0..<D {
            var s = 0.0, ss = 0.0
            for i in 0..<N { let v = Double(ftr[i * D + d]); s += v; ss += v * v }
            let m = s / Double(N)
            mean[d] = Float(m)
            inv[d] = Float(1 / (max(0, ss / Double(N) - m * m) + 1e-6).squareRoot())
        }
        for t in [ftr, fte] {
            for i in 0..<(t.count / D) { for d in 0..<D { t[i * D + d] = (t[i * D + d] - mean[d]) * inv[d] } }
        }
        let head = Linear("linprobe_head", in: D, out: classes)
        var rng = PRNG(seed: seed).fork("linprobe")
        rng.fillNormal(head.weight.value, std: 0.01)
        let opt = AdamW(head.parameters, weightDecay: Float(phase.weightDecay))
        let B = min(phase.batch, N)
        let perEpoch = N / B
        let sched = phase.schedule(stepsPerEpoch: perEpoch)
        let xb = Tensor(shape: [B, D]), grad = Tensor(shape: [0])
        observer.phaseStarted("linprobe", totalSteps: phase.epochs * perEpoch)
        var step = 0
        for epoch in 0..<phase.epochs {
            var epochRNG = rng.fork(epoch)
            let order = epochRNG.permutation(N)
            var epochLoss = 0.0
            for k in 0..<perEpoch {
                var yb: [Int32] = []
                for j in 0..<B {
                    let i = order[k * B + j]
                    (xb.data + j * D).update(from: ftr.data + i * D, count: D)
                    yb.append(ytr[i])
                }
                head.zeroGrad()
                let loss = CrossEntropy.forwardBackward(logits: head.forward(xb), labels: yb, grad: grad)
                head.backward(grad, needInputGrad: false)
                let lr = sched.lr(at: step)
                opt.update(lr: Float(lr))
                step += 1
                epochLoss += loss
                observer.stepFinished("linprobe", step: step, loss: loss, lr: lr, imagesPerSecond: 0)
            }
            observer.metric("linprobe", step: epoch + 1, name: "loss", value: epochLoss / Double(max(1, perEpoch)))
        }
        func accuracy(_ f: Tensor, _ y: [Int32]) -> Double {
            let logits = head.forward(f)
            return 100 * Double(CrossEntropy.correct(logits: logits, labels: y)) / Double(max(1, y.count))
        }
        let top1 = accuracy(fte, yte), trainTop1 = accuracy(ftr, ytr)
        observer.metric("linprobe", step: phase.epochs, name: "top1", value: top1)
        let seconds = Clock.now() - start
        observer.phaseFinished("linprobe", seconds: seconds)
        // The feature pass dominates: the encoder's forward once per image (the head's
        // few thousand FLOPs per step are left out).
        let fwd = encoder.flops(kept: nil).forward
        return Result(top1: top1, trainTop1: trainTop1, seconds: seconds, gflop: fwd * Double(N + yte.count) / 1e9)
    }
}
