import Foundation
import GRDB

/// `mimlab sql`: a user's own SQL over the results database, which must never change it.
/// Two independent guards: the connection is opened read-only (and `query_only`), and every
/// statement is vetted before any runs — SQLite's own read-only test (`sqlite3_stmt_readonly`)
/// plus a list of what may start a statement, because SQLite counts ATTACH, DETACH, BEGIN and
/// VACUUM INTO as "read-only" (they leave this file alone but can create others or hold locks).
public enum ReadOnlySQL {
    static let allowedVerbs: Set<String> = ["SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"]
    /// Pragmas that only report, callable with an argument: `PRAGMA table_info(runs)`.
    static let pragmasWithArgument: Set<String> = [
        "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
        "foreign_key_check", "integrity_check", "quick_check",
    ]
    /// Pragmas that only report when called without argument or `=`.
    static let readingPragmas: Set<String> = pragmasWithArgument.union([
        "database_list", "collation_list", "compile_options", "function_list", "module_list", "pragma_list",
        "table_list", "user_version", "schema_version", "application_id", "journal_mode", "page_size",
        "page_count", "freelist_count", "encoding", "foreign_keys", "auto_vacuum", "data_version",
    ])

    /// Opens an existing database read-only; a missing file is an error, never created, and
    /// nothing is written beside it (`DatabaseFile.openReadOnly`).
    static func open(path: String) throws -> DatabaseQueue {
        try DatabaseFile.openReadOnly(path: path, migrator: ResultsStore.migrator)
    }

    /// Runs `sql` (one statement or several separated by `;`) and returns the result of each
    /// statement that has columns. Throws, running nothing, when any statement could write.
    /// At most this many rows per statement are kept: a runaway query (a recursive CTE
    /// without an end) stops with an error instead of filling memory.
    public static let maxRows = 1_000_000

    public static func run(_ sql: String, path: String, timeout: TimeInterval = 60) throws -> [QueryTable] {
        let queue = try open(path: path)
        // A query that runs long without producing rows is stopped, as is one that produces too many.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "mimlab.sql.timeout"))
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { queue.interrupt() }
        timer.resume()
        defer { timer.cancel() }
        do {
            return try queue.read { db in
                var statements: [Statement] = []
                let cursor = try db.allStatements(sql: sql)
                while let s = try cursor.next() { statements.append(s) }
                guard !statements.isEmpty else { throw ResultsError("sql: no statement to run") }
                for s in statements {
                    if let why = refusal(sql: s.sql, isReadOnly: s.isReadonly) { throw ResultsError(why) }
                }
                return try statements.compactMap { s -> QueryTable? in
                    var rows: [Row] = []
                    let cursor = try Row.fetchCursor(s)
                    while let row = try cursor.next() {
                        rows.append(row.copy())
                        if rows.count > maxRows {
                            throw ResultsError("sql: a statement returned more than \(maxRows) rows; add a LIMIT")
                        }
                    }
                    guard !s.columnNames.isEmpty else { return nil }
                    return QueryTable(columns: s.columnNames,
                                      rows: rows.map { $0.databaseValues.map(QueryValue.init) })
                }
            }
        } catch let e as ResultsError { throw e } catch let e as DatabaseError where e.resultCode == .SQLITE_INTERRUPT {
            throw ResultsError("sql: stopped after \(Int(timeout)) s (--timeout); add a LIMIT or a condition that ends a recursive query")
        } catch {
            throw ResultsError("sql: \(ResultsStore.describe(error))")
        }
    }

    /// Why a statement may not run, or nil when it only reads.
    static func refusal(sql: String, isReadOnly: Bool) -> String? {
        let text = stripLeadingComments(sql)
        let verb = String(text.prefix(while: { $0.isLetter })).uppercased()
        let shown = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let snippet = shown.count > 60 ? String(shown.prefix(57)) + "..." : shown
        let refuse = "refusing to run '\(snippet)': the results database is read-only here (allowed: SELECT, WITH … SELECT, VALUES, EXPLAIN, read-only PRAGMAs such as table_info)"
        guard isReadOnly, allowedVerbs.contains(verb) else { return refuse }
        guard verb == "PRAGMA" else { return nil }
        // PRAGMA [schema.]name [= value | (argument)]
        var rest = text.dropFirst(verb.count).drop(while: \.isWhitespace)
        var name = String(rest.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }))
        rest = rest.dropFirst(name.count).drop(while: \.isWhitespace)
        if let dot = name.lastIndex(of: ".") { name = String(name[name.index(after: dot)...]) }
        name = name.lowercased()
        let argument = rest.first
        switch argument {
        case nil, ";": return readingPragmas.contains(name) ? nil : refuse
        case "(": return pragmasWithArgument.contains(name) ? nil : refuse
        default: return refuse
        }
    }

    static func stripLeadingComments(_ sql: String) -> Substring {
        var s = Substring(sql)
        while true {
            s = s.drop(while: { $0.isWhitespace })
            if s.hasPrefix("--") {
                s = s.drop(while: { $0 != "\n" })
            } else if s.hasPrefix("/*") {
                guard let end = s.range(of: "*/") else { return "" }
                s = s[end.upperBound...]
            } else {
                return s
            }
        }
    }

    /// Several statements' results: one table after the other (markdown, CSV), or an array of
    /// arrays (JSON) when there is more than one.
    public static func render(_ tables: [QueryTable], format: OutputFormat) -> String {
        if format == .json && tables.count != 1 {
            guard !tables.isEmpty else { return "[]\n" }
            return "[\n" + tables.map { $0.render(.json).trimmingCharacters(in: .newlines) }.joined(separator: ",\n") + "\n]\n"
        }
        return tables.map { $0.render(format) }.joined(separator: "\n")
    }
}
