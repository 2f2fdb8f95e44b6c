import ArgumentParser
import Data
import Foundation
import Tensor

struct FolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folder",
        abstract: "Image-folder datasets: decode one into the cache, or write synthetic data as one.",
        subcommands: [FolderCacheCommand.self, FolderExportCommand.self])
}

struct FolderCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Decode an image folder into the dataset cache at a working size (what a run does first).",
        discussion: """
        Lists PATH (ROOT/<class>/<image>, or ROOT/train/ and ROOT/val/), decodes every PNG and \
        JPEG at --image-size with the --resize policy on every core, and writes the cache runs \
        read. Run it once before a Slurm sweep so that the array tasks do not all decode the \
        same folder. A complete cache is reused; a changed folder is decoded again.
        """)

    @Argument(help: "The image folder.")
    var path: String

    @Option(help: "Working size in pixels (data.image_size).")
    var imageSize = 32

    @Option(help: "Resize policy (data.resize): \(ResizePolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var resize = ResizePolicy.shorter.rawValue

    @Option(help: "Validation fraction of a single class tree (data.val_fraction).")
    var valFraction: Double?

    @Option(help: "Dataset cache directory (default: $MIMLAB_CACHE or .cache/mimlab).")
    var cache: String?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Refuse non-image files instead of skipping them.")
    var strict = false

    func validate() throws { if let threads { try checkThreads(threads) } }

    func run() throws {
        if let threads { Parallel.threads = threads }
        guard let policy = ResizePolicy(rawValue: resize) else {
            throw CLIError("--resize \(resize): valid values are \(ResizePolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...4096).contains(imageSize) else { throw CLIError("--image-size \(imageSize): must be 1 to 4096") }
        let dir = cache ?? ProcessInfo.processInfo.environment["MIMLAB_CACHE"] ?? ".cache/mimlab"
        let folder: ImageFolder
        folder = try ImageFolder.scan(path, valFraction: valFraction, strict: strict)
        print("\(path): \(folder.classes.count) classes, \(folder.train.count) train + \(folder.val.count) val images, \(folder.skipped.count) non-image file(s) skipped; content hash \(folder.contentHash)")
        var bar: ProgressBar?
        var decoded = 0
        do {
            _ = try FolderCache.load(folder, size: imageSize, policy: policy, cacheDir: dir) { event in
                switch event {
                case .decoding(let n, let bytes, let at):
                    print(String(format: "decoding %d images at %d px (%@) into %.1f MiB: %@", n, imageSize, resize,
                                 Double(bytes) / 1_048_576, at))
                    bar = ProgressBar("decode", total: n, unit: "img")
                    decoded = n
                case .progress(let done, _): bar?.update(done, trailing: "")
                case .written(let at, let seconds):
                    bar?.finish(trailing: String(format: "%.1f s", seconds))
                    print(String(format: "decoded %d images in %.1f s: %.0f images/s on %d thread(s); cache %@",
                                 decoded, seconds, Double(decoded) / max(seconds, 1e-9), Parallel.threads, at))
                }
            }
        }
        if decoded == 0 {
            print("cache is up to date: \((dir as NSString).appendingPathComponent(FolderCache.fileName(folder, size: imageSize, policy: policy)))")
        }
    }
}

struct FolderExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the synthetic dataset as an image folder: OUT/train/<class>/ (pool) and OUT/val/<class>/ (test).",
        discussion: """
        Class folders are named 00-disc, 01-ring, … so that sorted order is the synthetic \
        label order. For trying the folder path, and for decoding benchmarks at any size.
        """)

    @Argument(help: "Output directory (created).")
    var out: String

    @Option(help: "Image side in pixels (16 to 1024).")
    var imageSize = 32

    @Option(help: "Images in train/ (the synthetic pool split).")
    var train = 512

    @Option(help: "Images in val/ (the synthetic test split).")
    var val = 256

    @Option(help: "png or jpeg.")
    var format = FolderExport.Format.png.rawValue

    @Option(help: "JPEG quality (1 to 100).")
    var quality = 90

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func validate() throws { if let threads { try checkThreads(threads) } }

    func run() throws {
        if let threads { Parallel.threads = threads }
        guard let fmt = FolderExport.Format(rawValue: format) else { throw CLIError("--format \(format): valid values are png, jpeg") }
        guard (1...100).contains(quality) else { throw CLIError("--quality \(quality): must be 1 to 100") }
        guard train >= 0, val >= 0 else { throw CLIError("--train and --val are image counts (≥ 0)") }
        let spec = SyntheticSpec(seed: 0, imageSize: imageSize)
        do {
            try spec.validate()
            let names = FolderExport.syntheticClassNames(spec.classes)
            for (split, sub, n) in [(SyntheticDataset.Split.pool, "train", train), (.test, "val", val)] {
                let ds = try ImageDataset(bytes: SyntheticDataset.generate(spec, split: split, count: n), imageSize: imageSize,
                                          numClasses: spec.classes, name: "synthetic \(split.rawValue)")
                try FolderExport.write(ds, classNames: names, to: (out as NSString).appendingPathComponent(sub), format: fmt,
                                       quality: quality)
            }
        }
        print("written: \(out) (\(train) train + \(val) val \(fmt.rawValue) images of \(imageSize) px, \(spec.classes) classes)")
    }
}
