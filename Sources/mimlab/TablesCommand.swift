import ArgumentParser
import Foundation
import Results
import Sweep

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Regenerate the papers' tables (markdown) and figures (SVG) from the results database.",
        discussion: """
        For each sweep spec with a `table:` section, writes <out>/tables/<name>.md: one row per \
        setting, each cell "ours mean ± std (n seeds)" beside the paper's number (paper/*.yaml), \
        the paired difference against the reference row with its 95% interval, AvgDist where the \
        spec asks for it, and one verdict line per paper claim the table can test; and the spec's \
        figures as <out>/figures/<name>-<kind>.svg (avgdist-vs-ratio = Figure 3a, drawn from the \
        mask generators alone; top1-vs-avgdist = Figure 3b). Runs not done yet show \
        as "—" and are counted below the table. Nothing is run; the same database gives \
        byte-identical files.

          mimlab tables              # every spec in experiments/ with a table
          mimlab tables experiments/table1-masking.yaml --db results/mimlab.sqlite
        """)

    @Argument(help: "Sweep specs (default: every experiments/*.yaml with a table section).")
    var specs: [String] = []

    @Option(help: "Results database (SQLite).")
    var db: String = ResultsStore.defaultPath

    @Option(help: "Output root: tables go to OUT/tables, figures to OUT/figures.")
    var out: String = "results"

    @Option(help: "Directory of the papers' reported numbers.")
    var paperDir: String = PaperNumbers.defaultDirectory

    @Flag(help: "Do not print the tables.")
    var quiet = false

    func run() throws {
        var paths = specs
        if paths.isEmpty {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "experiments")) ?? []
            paths = files.filter { $0.hasSuffix(".yaml") }.sorted().map { "experiments/\($0)" }
                .filter { SweepSpec.isSweepSpec(path: $0) }  // run configs (smoke.yaml, …) live there too
        }
        var loaded: [SweepSpec] = []
        for p in paths {
            let s = try SweepSpec.load(path: p)
            if s.table != nil { loaded.append(s) } else if !specs.isEmpty { throw CLIError("\(p): no table section; nothing to regenerate") }
        }
        guard db.isEmpty || FileManager.default.fileExists(atPath: db) else {
            throw CLIError("\(db): no results database; run a sweep first (mimlab sweep run SPEC)")
        }
        // Regenerating tables reads the database: it stays byte-identical (git sees no change).
        let store = try ResultsStore(path: db, readOnly: true)
        for sub in ["tables", "figures"] { AtomicTextFile.removeStaleTemps(in: "\(out)/\(sub)") }
        for spec in loaded {
            let layout = spec.table!
            let runs = try TableInputs.runs(spec, layout: layout, store: store)
            let context = try TableInputs.context(spec, layout: layout)
            var paper: PaperNumbers? = nil
            if let ref = layout.paper {
                do { paper = try PaperNumbers.load(reference: ref, directory: paperDir).numbers } catch { throw CLIError("\(spec.path): table.paper: \(error)") }
            }
            let markdown = TableRenderer.render(layout: layout, runs: runs, paper: paper, context: context)
            let tablePath = "\(out)/tables/\(layout.name).md"
            try AtomicTextFile.write(markdown, to: tablePath)
            var written = [tablePath]
            for kind in layout.figures {
                guard let svg = Figures.render(kind: kind, runs: runs, context: context,
                                                       metric: layout.metrics.first ?? "finetune.top1") else { continue }
                let path = "\(out)/figures/\(layout.name)-\(kind).svg"
                try AtomicTextFile.write(svg, to: path)
                written.append(path)
            }
            if !quiet { print(markdown) }
            FileHandle.standardError.write(Data("written: \(written.joined(separator: ", "))\n".utf8))
        }
    }
}
