import ArgumentParser
import Foundation
import Results

struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Maintain the results database.",
        subcommands: [ResultsCheckpointCommand.self])
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
        guard FileManager.default.fileExists(atPath: db) else { fail("\(db): no such database") }
        do {
            let store = try ResultsStore(path: db)
            let (pages, moved) = try store.checkpoint()
            let check = try store.integrityCheck()
            let counts = try store.countsByStatus()
            let summary = RunStatus.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            print("\(db): checkpointed \(moved)/\(pages) log pages; integrity \(check); runs: \(summary)")
            if check != "ok" { Foundation.exit(1) }
        } catch { fail("\(error)") }
    }
}
