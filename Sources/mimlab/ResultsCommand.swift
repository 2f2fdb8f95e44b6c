import ArgumentParser
import Foundation
import Results

struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Maintain the results database.",
        subcommands: [ResultsCheckpointCommand.self, ResultsMergeCommand.self])
}

struct ResultsCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Fold the write-ahead log into the database file, so the file alone can be copied or committed.",
        discussion: """
        The database runs in WAL mode: recent transactions live in DB-wal until SQLite folds \
        them in. Run this before `git add results/mimlab.sqlite` (sweeps may keep running); it \
        also checks the file's integrity.
        """)

    @Option(help: "Results database (SQLite).")
    var db: String = ResultsStore.defaultPath

    func run() throws {
        guard db.isEmpty || FileManager.default.fileExists(atPath: db) else { throw CLIError("\(db): no such database") }
        let store = try ResultsStore(path: db)
        defer { store.close() }
        let (pages, moved) = try store.checkpoint()
        let check = try store.integrityCheck()
        let counts = try store.countsByStatus()
        let summary = RunStatus.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
        print("\(db): checkpointed \(moved)/\(pages) log pages; integrity \(check); runs: \(summary)")
        if check != "ok" { throw ExitCode(1) }
    }
}

struct ResultsMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold result shards (one SQLite file per run, from Slurm array tasks) into the results database.",
        discussion: """
        Each DIR/<run id>.shard.sqlite is checked (SQLite integrity check, shard format, the \
        complete marker, exactly one run), ingested in one transaction and moved to DIR/merged/, \
        so merging again is cheap and changes nothing. A run the database has done is never \
        overwritten; otherwise the shard's attempt replaces what the database has for the run. \
        Shards that fail a check are listed with the reason and left where they are, as are \
        .tmp files (tasks still writing, or that died); neither touches the database. Exits 1 \
        when a shard failed, 0 otherwise.
        """)

    @Argument(help: "Directory of result shards.")
    var dir: String

    @Option(help: "Results database (SQLite); created when missing.")
    var db: String = ResultsStore.defaultPath

    func run() throws {
        var isDir: ObjCBool = false
        // Checked before the database is opened, which would create it for a mistyped DIR.
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("\(dir): no such shard directory")
        }
        var (report, mergeable) = ResultsStore.previewMerge(shardsIn: dir)
        if mergeable {
            let store = try ResultsStore(path: db)
            defer { store.close() }
            report = try store.merge(shardsIn: dir)
        } else if db.isEmpty || FileManager.default.fileExists(atPath: db) {
            // Nothing to ingest: the database is only checked, and stays byte-identical.
            _ = try ResultsStore(path: db, readOnly: true)
        }
        for p in report.failed { print("failed: \(dir)/\(p.file): \(p.reason)") }
        for p in report.incomplete { print("incomplete: \(dir)/\(p.file): \(p.reason)") }
        print("\(dir) -> \(db): \(report.summary)")
        if !report.failed.isEmpty { throw ExitCode(1) }
    }
}
