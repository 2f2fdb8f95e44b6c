import ArgumentParser
import Foundation
import Results

struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run your own read-only SQL on the results database.",
        discussion: """
        The database is opened read-only, and a statement that could change anything (INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, VACUUM, a PRAGMA that sets, …) is refused before any statement runs. Several statements separated by ; print one table each.

        Tables: runs (id, config JSON, status, attempts, host, pid, created_at, started_at, finished_at, heartbeat_at, error, code_version, blas_kernel, threads, progress), run_sweeps (run_id, sweep), metrics (run_id, phase, step, name, value), results (run_id, name, value); view run_axes (id, status, method, encoder, mask_type, mask_patch, mask_ratio, head, target, pred_resolution, loss_on, pretrain_epochs, seed). Config keys: json_extract(config, '$.mask.ratio').

        Examples:
          mimlab sql "SELECT status, count(*) AS n FROM runs GROUP BY status"
          mimlab sql "SELECT a.mask_patch, avg(r.value) AS top1 FROM run_axes a
            JOIN results r ON r.run_id = a.id AND r.name = 'finetune.top1'
            GROUP BY 1" --format csv
          mimlab sql "PRAGMA table_info(runs)"
        """)

    // Taken as it is even when it starts with "-" (a leading "-- comment").
    @Argument(parsing: .allUnrecognized, help: "SQL: SELECT, WITH … SELECT, VALUES, EXPLAIN or a read-only PRAGMA; several separated by ;.")
    var sql: [String] = []

    @Option(help: "Results database.")
    var db = ResultsStore.defaultPath

    @Option(help: "Output format: markdown, csv or json.")
    var format = "markdown"

    @Option(help: "Stop a statement that runs longer than this many seconds.")
    var timeout: Double = 60

    func validate() throws {
        guard timeout > 0 && timeout <= 86_400 else { throw ValidationError("--timeout \(timeout): must be more than 0 and at most 86400 seconds") }
    }

    func run() throws {
        guard let output = OutputFormat(rawValue: format) else {
            throw CLIError("--format: unknown format '\(format)' (valid: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard sql.count == 1 else {
            throw CLIError(sql.isEmpty ? "sql: give the SQL to run, e.g. mimlab sql \"SELECT status, count(*) FROM runs GROUP BY status\""
                           : "sql: give the SQL as one quoted argument (got \(sql.count): \(sql.map { "'\($0.prefix(30))'" }.joined(separator: " ")))")
        }
        print(ReadOnlySQL.render(try ReadOnlySQL.run(sql[0], path: db, timeout: timeout), format: output), terminator: "")
    }
}
