import ArgumentParser
import Foundation
import NN
import Tensor
import Train

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One run: pre-train, linear-probe and fine-tune as a config says; print and save the results.",
        discussion: """
        CONFIG is a YAML run config (see experiments/tiny-default.yaml); every key has a default, \
        so an empty file is the tiny protocol's default SimMIM run. `--set key.path=value` \
        overrides one key (repeatable), e.g. --set mask.ratio=0.75 --set pretrain.epochs=0 (the \
        random-initialisation baseline).

        Shows a progress bar per phase; prints the final metrics as a table; writes the \
        pre-trained checkpoint (safetensors) and results.json into --out.
        """)

    @Argument(help: "Run config (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config key: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "Directory for the checkpoint and results.json (default: runs/<config name>-seed<seed>).")
    var out: String?

    @Option(help: "Directory for generated datasets (default: $MIMLAB_CACHE or .cache/mimlab).")
    var cache: String?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Flag(help: "Image folders: refuse non-image files instead of skipping them.")
    var strict = false

    func validate() throws { if let threads { try checkThreads(threads) } }

    func run() throws {
        if let threads { Parallel.threads = threads }
        let cfg = try RunConfig.load(path: config, overrides: overrides)
        let name = ((config as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = out ?? "runs/\(name)-seed\(cfg.seed)"
        // Made before any work: a run should not train for an hour and then find it cannot write.
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw CLIError("--out \(dir): cannot create the output directory (\(pathProblem(dir)))")
        }
        let observer = ProgressObserver()
        let data = try RunDataFactory.make(cfg, cacheDir: cache, observer: observer, strict: strict)
        // After the config and data are checked, so that bad input stays a one-line error.
        FileHandle.standardError.write(Data("mimlab run: \(Parallel.threads) thread(s), OpenBLAS kernel \(BLASKernel.status.description)\n".utf8))
        let result = try Run(config: cfg, outputDir: dir).execute(data, observer: observer)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try enc.encode(result.values), as: UTF8.self))
            return
        }
        print("| metric | value |")
        print("|---|---:|")
        for key in result.values.keys.sorted() {
            let v = result.values[key]!
            print("| \(key) | \(v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%.4g", v)) |")
        }
        print("written: \(dir)/results.json")
    }
}

/// Draws one progress bar per phase from the training loops' reports.
final class ProgressObserver: TrainObserver {
    private var bar: ProgressBar?
    private var phase = ""
    /// Steps of a resumed phase that an earlier attempt ran; their replay is not progress.
    private var replayed = 0

    func phaseStarted(_ phase: String, totalSteps: Int) {
        self.phase = phase
        replayed = 0
        bar = ProgressBar(phase, total: max(1, totalSteps), unit: phase == "decode" ? "img" : "step")
    }

    func phaseResumed(_ phase: String, step: Int, path: String) {
        replayed = step
        bar?.note("\(phase): resuming at step \(step) of \(bar?.total ?? step) from \(path)")
        bar?.resume(at: step)
    }

    func checkpointIgnored(_ phase: String, path: String, reason: String) {
        bar?.note("\(phase): not resuming from \(path) (\(reason)); starting over")
    }

    func stepFinished(_ phase: String, step: Int, loss: Double?, lr: Double?, imagesPerSecond: Double) {
        guard step > replayed else { return }
        var trailing = loss.map { String(format: "loss %.4f", $0) } ?? ""
        if imagesPerSecond > 0 { trailing += String(format: "  %.0f img/s", imagesPerSecond) }
        bar?.update(step, trailing: trailing)
    }

    func phaseFinished(_ phase: String, seconds: Double) {
        bar?.finish(trailing: String(format: "%.1f s", seconds))
        bar = nil
    }

    func note(_ message: String) {
        if let bar { bar.note(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
    }
}
