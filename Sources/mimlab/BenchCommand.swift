import ArgumentParser
import Foundation
import NN
import Tensor
import Train

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training-step throughput of a model preset (vit-micro by default), and raw sgemm on this machine.",
        discussion: """
        Times a SimMIM pre-training step and a fine-tuning step (and, with --mode mae / \
        maskalign, those methods' pre-training steps on the same encoder) (zero_grad + forward + loss + \
        backward + AdamW; data made once, outside the timing) for vit-micro (32x32, patch 4, \
        dim 128, depth 6, 4 heads, MLP ratio 4), or the --preset given (swin-* times SimMIM on \
        Swin, as scripts/oracle/bench_swin.py times timm's), at batch 64, and reports the median as \
        images/s and GFLOP/s (analytic matmul FLOPs, as shared/oracle/bench_simmim.py), beside \
        raw sgemm GFLOP/s at the MLP's shape, so their ratio shows how much of the machine the \
        step uses. Also prints peak RSS and the OpenBLAS kernel in use.

        OpenBLAS picks its kernel when the library loads. When its choice is weaker than what \
        this CPU's features allow (a CPU newer than the library), mimlab starts itself again \
        with OPENBLAS_CORETYPE set to the best kernel for those features (AVX-512 with BF16: \
        Cooperlake; AVX-512: SkylakeX; AVX2 + FMA: Haswell, or Zen on AMD). An \
        OPENBLAS_CORETYPE in your environment always wins (compare kernels by running \
        `OPENBLAS_CORETYPE=Haswell mimlab bench`); MIMLAB_OPENBLAS_AUTO=0 keeps OpenBLAS's \
        own choice. The first line says which kernel runs and who chose it.
        """)

    @Option(help: "Threads (default: all cores). Repeat the command to compare counts.")
    var threads: Int?

    @Option(help: "Batch size.")
    var batch = 64

    @Option(help: "Timed steps per mode (after 3 warm-up steps).")
    var steps = 20

    @Option(help: "Modes to time: pretrain (SimMIM), finetune, mae, maskalign (ViT presets only).")
    var mode: [String] = ["pretrain", "finetune"]

    @Option(help: "Model preset: \(BenchCommand.presets.joined(separator: ", ")) (a swin-* preset times SimMIM on Swin).")
    var preset = "vit-micro"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if let threads { try checkThreads(threads) }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        for m in mode where !["pretrain", "finetune", "mae", "maskalign"].contains(m) {
            throw ValidationError("--mode \(m): valid values are pretrain, finetune, mae, maskalign")
        }
        if SwinConfig.presets[preset] != nil, let m = mode.first(where: { ["mae", "maskalign"].contains($0) }) {
            throw ValidationError("--mode \(m): drops tokens, which Swin cannot; with --preset \(preset) valid: pretrain, finetune")
        }
        if !BenchCommand.presets.contains(preset) {
            throw ValidationError("--preset \(preset): valid values are \(BenchCommand.presets.joined(separator: ", "))")
        }
    }

    static var presets: [String] { ViTConfig.presets.keys.sorted() + SwinConfig.presets.keys.sorted() }

    func run() throws {
        if let threads { Parallel.threads = threads }
        let swin = SwinConfig.presets[preset]
        let cfg = ViTConfig.presets[preset] ?? .micro
        let kernel = BLASKernel.status
        var results: [Bench.Result] = []
        for m in mode {
            let bar = ProgressBar("bench \(m)", total: steps + 3, unit: "step")
            if let swin {
                results.append(Bench.trainStep(swin: swin, pretrain: m == "pretrain", batch: batch, warmup: 3, steps: steps) {
                    bar.update($0)
                })
            } else if m == "mae" || m == "maskalign" {
                results.append(try Bench.methodStep(cfg, method: m, batch: batch, warmup: 3, steps: steps) { bar.update($0) })
            } else {
                results.append(Bench.trainStep(cfg, pretrain: m == "pretrain", batch: batch, warmup: 3, steps: steps) {
                    bar.update($0)
                })
            }
            bar.finish()
        }
        // The MLP's fc1 (Swin: stage 0's, its largest row count).
        let (m, n, k) = swin.map { (batch * $0.tokens, $0.mlpHidden(ofStage: 0), $0.embedDim) }
            ?? (batch * cfg.tokens, cfg.mlpHidden, cfg.dim)
        let gemm = Bench.sgemm(m: m, n: n, k: k, repeats: 20)
        let rss = Bench.peakRSS()
        if json {
            var obj: [String: Any] = [
                "preset": preset, "threads": Parallel.threads, "batch": batch,
                "openblas_corename": kernel.corename, "openblas_chosen_by": kernel.origin.rawValue,
                "openblas_replaced": kernel.replaced ?? NSNull(), "cpu_features": kernel.features,
                "sgemm_shape": [m, n, k], "sgemm_gflops": gemm, "peak_rss_bytes": rss,
            ]
            obj["results"] = results.map {
                ["mode": $0.mode, "images_per_second": $0.imagesPerSecond, "median_step_seconds": $0.medianSeconds,
                 "gflop_per_step": $0.gflopPerStep, "gflops": $0.gflopPerSecond, "steps_timed": $0.stepsTimed] as [String: Any]
            }
            let d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: d, as: UTF8.self))
            return
        }
        print("mimlab bench — \(preset), batch \(batch), \(Parallel.threads) thread(s)")
        print("OpenBLAS kernel: \(kernel.description)")
        print("| step | images/s | ms/step | GFLOP/s | share of sgemm |")
        print("|---|---:|---:|---:|---:|")
        for r in results {
            print("| \(r.mode) | \(String(format: "%.1f", r.imagesPerSecond)) | \(String(format: "%.1f", r.medianSeconds * 1000)) | \(String(format: "%.1f", r.gflopPerSecond)) | \(String(format: "%.0f%%", 100 * r.gflopPerSecond / gemm)) |")
        }
        print("sgemm [\(m)x\(k)] x [\(k)x\(n)]: \(String(format: "%.1f", gemm)) GFLOP/s")
        print("peak RSS: \(String(format: "%.0f", Double(rss) / 1_048_576)) MiB")
    }
}
