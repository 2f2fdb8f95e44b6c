import ArgumentParser
import Foundation
import MIM
import Tensor

struct AvgDistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avgdist",
        abstract: "AvgDist of masking strategies: the grid of SimMIM's Figure 3(a).",
        discussion: """
        AvgDist is the mean Euclidean distance from each masked pixel to the nearest visible pixel (between pixel centres), averaged over sampled masks. SimMIM finds the best fine-tuning results at AvgDist 10–20 px on 192-px images; the relative value (AvgDist / image side) puts runs at different image sizes on one axis.

        Masks come from the same generators as pre-training: random (SimMIM: ceil(ratio × N) of the N mask patches), square (one k×k block at a random place, k = round(√(ratio × N))), block-wise (BEiT's generator, at least 4 mask patches per block, ceil(ratio × N) target) and grid (MAE's Table 1f: three of every 2×2 mask patches, so ratio 0.75 only, on even mask grids). Mask patch sizes that do not fit the image are skipped with a note. A mask that hides every pixel has no AvgDist; such masks are left out of the mean and counted.

        Each cell draws from its own stream of the seed, so a cell's numbers do not depend on which other cells are run. Progress goes to stderr.

        Examples:
          mimlab avgdist                      (the full 192-px grid)
          mimlab avgdist --mask-patch 32 --ratio 0.6 --samples 400
          mimlab avgdist --image-size 32 --mask-patch 4 8 16 --json > avgdist32.jsonl
        """)

    // `.unconditional`: "-32" is a (bad) value to name, not a missing one.
    @Option(parsing: .unconditional, help: "Image side in pixels (1 to \(AvgDistCommand.maxImageSize)).")
    var imageSize = 192

    @Option(parsing: .unconditional, help: "Model (ViT) patch size in pixels; masks are drawn on this grid.")
    var modelPatch = 4

    @Option(parsing: .upToNextOption,
            help: "Mask types: random, square, block-wise, grid (grid: ratio 0.75 only). (default: random block-wise)")
    var maskType: [String] = []

    @Option(parsing: .upToNextOption,
            help: "Masked patch sizes in pixels, multiples of --model-patch. (default: 4 8 16 32 64)")
    var maskPatch: [Int] = []

    @Option(parsing: .upToNextOption, help: "Mask ratios in (0, 1). (default: 0.1 0.2 … 0.9)")
    var ratio: [Double] = []

    @Option(parsing: .unconditional, help: "Masks sampled per cell (1 to \(AvgDistCommand.maxSamples)).")
    var samples = 200

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Print one JSON object per cell on stdout instead of the table.")
    var json = false

    static let optionNames: (MaskSpecError.Field) -> String = {
        switch $0 {
        case .imageSize: return "--image-size"
        case .modelPatchSize: return "--model-patch"
        case .maskedPatchSize: return "--mask-patch"
        case .maskRatio: return "--ratio"
        case .maskType: return "--mask-type"
        }
    }

    struct Cell {
        let spec: MaskSpec
        var stats: AvgDistStats
    }

    /// Bounds checked before any mask is drawn: a mask is imageSize² floats and its distance
    /// transform as many; past these a grid only looks like a hang.
    static let maxImageSize = 4096
    static let maxSamples = 1_000_000
    static let maxPixelSamples = 50_000_000_000.0

    func validate() throws {
        guard (1...AvgDistCommand.maxImageSize).contains(imageSize) else {
            throw ValidationError("--image-size \(imageSize): must be 1 to \(AvgDistCommand.maxImageSize) px")
        }
        guard (1...imageSize).contains(modelPatch) else {
            throw ValidationError("--model-patch \(modelPatch): must be 1 to --image-size (\(imageSize)) px")
        }
        guard (1...AvgDistCommand.maxSamples).contains(samples) else {
            throw ValidationError("--samples \(samples): must be 1 to \(AvgDistCommand.maxSamples)")
        }
        for p in maskPatch where !(1...AvgDistCommand.maxImageSize).contains(p) {
            throw ValidationError("--mask-patch \(p): must be 1 to \(AvgDistCommand.maxImageSize) px")
        }
        let cells = Double((maskType.isEmpty ? 2 : maskType.count) * (maskPatch.isEmpty ? 5 : maskPatch.count) * (ratio.isEmpty ? 9 : ratio.count))
        let work = cells * Double(samples) * Double(imageSize * imageSize)
        guard work <= AvgDistCommand.maxPixelSamples else {
            throw ValidationError("--samples \(samples) × \(Int(cells)) cells × \(imageSize)² px is too much work (over \(Int(AvgDistCommand.maxPixelSamples / 1e9)) billion pixel samples); lower --samples or --image-size")
        }
    }

    func run() throws {
        let cells = try plan()
        let bar = ProgressBar("avgdist", total: cells.count * samples, unit: "masks")
        var done: [Cell] = []
        for var cell in cells {
            let s = cell.spec
            var generator: MaskGenerator
            do { generator = try MaskGenerator(s) } catch { throw CLIError((error as? MaskSpecError)?.message(naming: Self.optionNames) ?? "\(error)") }
            var rng = PRNG(seed: seed).fork("avgdist/\(s.type.rawValue)/\(s.maskedPatchSize)/\(s.maskRatio)")
            let cellName = "\(s.type.rawValue) \(s.maskedPatchSize) px r=\(s.maskRatio)"
            for _ in 0..<samples {
                cell.stats.add(mask: generator.next(&rng), spec: s)
                bar.advance(trailing: cellName)
            }
            done.append(cell)
            if json { print(jsonRecord(cell)); fflush(stdout) }
        }
        bar.finish(trailing: cells.count == 1 ? "1 cell" : "\(cells.count) cells")
        if !json { printTables(done) }
    }

    /// Expands the options into cells, after checking them; exits with a one-line message
    /// naming the option on bad input.
    private func plan() throws -> [Cell] {
        let types: [MaskType]
        do {
            types = try (maskType.isEmpty ? ["random", "block-wise"] : maskType).map { try MaskType(parsing: $0) }
        } catch let e as MaskSpecError { throw CLIError(e.message(naming: Self.optionNames)) }
        let ratios = ratio.isEmpty ? (1...9).map { Double($0) / 10 } : ratio
        let patches = maskPatch.isEmpty ? [4, 8, 16, 32, 64] : maskPatch
        // The image and model patch first (with mask patch = model patch, which always fits
        // when they do), then each ratio, so each message names the option to fix.
        func spec(_ patch: Int, _ r: Double) -> MaskSpec {
            MaskSpec(type: .random, imageSize: imageSize, modelPatchSize: modelPatch, maskedPatchSize: patch, maskRatio: r)
        }
        try check(spec(modelPatch, 0.5), strict: true)
        for r in ratios { try check(spec(modelPatch, r), strict: true) }
        var usable: [Int] = [], notes: [String] = []
        for p in patches where !usable.contains(p) {
            if let note = try check(spec(p, 0.5), strict: false) { notes.append(note) } else { usable.append(p) }
        }
        guard !usable.isEmpty else {
            let valid = MaskSpec.validMaskedPatchSizes(imageSize: imageSize, modelPatchSize: modelPatch)
            throw CLIError("no --mask-patch of \(patches.map(String.init).joined(separator: " ")) fits --image-size \(imageSize) "
                 + "with --model-patch \(modelPatch); valid: "
                 + valid.map(String.init).joined(separator: ", "))
        }
        // Skipped sizes are worth a note only when something is left to compute.
        for note in notes { FileHandle.standardError.write(Data("mimlab: note: skipping \(note)\n".utf8)) }
        // Grid masks exist at ratio 0.75 on even mask grids only: their one cell per patch size.
        return types.flatMap { t in usable.flatMap { p in (t == .grid ? [0.75] : ratios).compactMap { r in
            let s = MaskSpec(type: t, imageSize: imageSize, modelPatchSize: modelPatch, maskedPatchSize: p, maskRatio: r)
            return (try? s.validate()) == nil ? nil : Cell(spec: s, stats: AvgDistStats(imageSize: imageSize))
        } } }
    }

    /// Validates `spec`; returns why a masked patch size is skipped (nil: it is usable). A
    /// masked-patch problem is skipped unless `strict`; anything else ends the command.
    @discardableResult
    private func check(_ spec: MaskSpec, strict: Bool) throws -> String? {
        do {
            try spec.validate()
            return nil
        } catch let e as MaskSpecError {
            let message = e.message(naming: Self.optionNames)
            if strict || e.field != .maskedPatchSize { throw CLIError(message) }
            return message
        }
    }

    // MARK: output

    private func jsonRecord(_ cell: Cell) -> String {
        func num(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
        let s = cell.spec, st = cell.stats
        return "{\"type\":\"\(s.type.rawValue)\",\"patch\":\(s.maskedPatchSize),\"ratio\":\(s.maskRatio),"
            + "\"image_size\":\(s.imageSize),\"model_patch\":\(s.modelPatchSize),"
            + "\"mean\":\(num(st.mean)),\"std\":\(num(st.std)),"
            + "\"mean_rel\":\(num(st.meanRel)),\"std_rel\":\(num(st.stdRel)),"
            + "\"samples\":\(st.samples),\"undefined\":\(st.undefined),"
            + "\"actual_ratio\":\(num(st.actualRatio)),\"seed\":\(seed)}"
    }

    private func printTables(_ cells: [Cell]) {
        let ratios = cells.map(\.spec.maskRatio).reduce(into: [Double]()) { if !$0.contains($1) { $0.append($1) } }
        let rowKeys = cells.map { "\($0.spec.type.rawValue)|\($0.spec.maskedPatchSize)" }
            .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        func cell(_ key: String, _ r: Double) -> Cell? {
            cells.first { "\($0.spec.type.rawValue)|\($0.spec.maskedPatchSize)" == key && $0.spec.maskRatio == r }
        }
        var footnotes = Set<String>()
        func marks(_ c: Cell) -> String {
            var m = ""
            if abs(c.stats.actualRatio - c.spec.maskRatio) > 0.005 { m += "*"; footnotes.insert("*") }
            if c.stats.undefined > 0 && c.stats.defined > 0 { m += "†"; footnotes.insert("†") }
            return m
        }
        func table(_ title: String, width: Int, _ value: (AvgDistStats) -> String) {
            print(title)
            var header = "type        patch"
            for r in ratios { header += pad("\(r)", width) }
            print(header)
            for key in rowKeys {
                let parts = key.split(separator: "|")
                var line = String(parts[0]).padding(toLength: 10, withPad: " ", startingAt: 0) + pad("\(parts[1]) px", 7)
                for r in ratios {
                    guard let c = cell(key, r) else { line += pad("", width); continue }
                    let text = c.stats.defined == 0 ? "undefined" : value(c.stats)
                    line += pad(text + marks(c), width)
                }
                print(line)
            }
            print("")
        }
        print("AvgDist: \(imageSize)×\(imageSize) image, model patch \(modelPatch), \(samples) masks per cell, seed \(seed)\n")
        table("pixels, mean ± std over masks", width: 13) { String(format: "%.2f±%.2f", $0.mean, $0.std) }
        table("relative to the image side (AvgDist / \(imageSize))", width: 9) { String(format: "%.4f", $0.meanRel) }
        if footnotes.contains("*") {
            print("* the masked fraction differs from the ratio by more than 0.005 (ceil(ratio × N) on few mask")
            print("  patches, a k×k square, or block-wise masks ending short); --json gives actual_ratio")
        }
        if footnotes.contains("†") {
            print("† some masks hid every pixel (AvgDist undefined) and are left out; --json gives the count")
        }
        if cells.contains(where: { $0.stats.defined == 0 }) {
            print("undefined: every mask hid the whole image (ceil(ratio × N) = N)")
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - s.count)) + s
    }
}
