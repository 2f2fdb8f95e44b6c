import Foundation
import GRDB

/// The results database (DESIGN.md, "Results database"): every run a sweep asks for, its
/// status and attempts, its metric history and its final results, in one SQLite file that
/// many processes share. WAL lets readers run beside the one writer; every write is a short
/// IMMEDIATE transaction and waits (busy timeout) instead of failing with "database is locked".
public final class ResultsStore: @unchecked Sendable {
    public static let defaultPath = "results/mimlab.sqlite"
    /// How long a writer waits for another process's transaction before giving up.
    public static let busyTimeout: TimeInterval = 120

    public let path: String
    let writer: any DatabaseWriter

    /// Opens (creating and migrating when missing) the database at `path`. With `readOnly`
    /// the file must exist and is never written, nor are -wal/-shm files left beside it
    /// (`DatabaseFile.openReadOnly`): what `plan`, `status`, `tables` and `query` use.
    /// `allowNew`: with `readOnly`, a file another writer has only begun to create (no
    /// tables yet) reads as an empty database instead of an error, for a writer's own look
    /// before it writes.
    public init(path: String, readOnly: Bool = false, allowNew: Bool = false) throws {
        self.path = path
        if readOnly {
            writer = try DatabaseFile.openReadOnly(path: path, migrator: ResultsStore.migrator, allowEmpty: allowNew)
            return
        }
        // Looked at read-only first: opening for writing would switch another program's
        // database to WAL before we could tell it is not ours.
        if try DatabaseFile.precheck(path: path, emptyIsNew: true) {
            try DatabaseFile.openReadOnly(path: path, migrator: ResultsStore.migrator, allowEmpty: true).close()
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        var config = Configuration()
        config.busyMode = .timeout(ResultsStore.busyTimeout)
        config.foreignKeysEnabled = true
        do {
            // Two processes opening a new file at once race twice: for switching it to WAL
            // (which takes the lock without waiting on the busy timeout), and for the
            // schema (GRDB reads which migrations are applied before it takes the write
            // lock, so both may try to create it). The loser rolls back and, retried, finds
            // the file in WAL mode and the schema in place.
            var attempt = 0
            while true {
                do {
                    let pool = try DatabasePool(path: path, configuration: config)
                    try ResultsStore.migrator.migrate(pool)
                    writer = pool
                    break
                } catch {
                    attempt += 1
                    if attempt >= 20 || ResultsStore.isPermanent(error) { throw error }
                    Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
                }
            }
        } catch let e as ResultsError { throw e } catch {
            throw ResultsError("\(path): cannot open the results database: \(ResultsStore.describe(error))"
                               + (ResultsStore.whyNotWritable(path).map { " (\($0))" } ?? ""))
        }
    }

    /// Why SQLite may not write the database here, in words: SQLite's own "unable to open
    /// database file" does not say that the file, or the directory its journal goes to, is
    /// read-only.
    static func whyNotWritable(_ path: String) -> String? {
        let dir = (path as NSString).deletingLastPathComponent
        for (p, what) in [(path, "the file"), (dir.isEmpty ? "." : dir, "its directory")] {
            guard FileManager.default.fileExists(atPath: p) else { continue }
            if access(p, W_OK) != 0 {
                let reason = errno == EROFS ? "a read-only file system" : String(cString: strerror(errno))
                return "\(what) is not writable: \(reason); sweeps need to write the database"
            }
        }
        return nil
    }

    /// Errors no retry will cure (a read-only or missing file, not a database, corrupt):
    /// anything else on opening is taken for a race with another process opening the file.
    static func isPermanent(_ error: Error) -> Bool {
        guard let e = error as? DatabaseError else { return true }
        return [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_PERM, .SQLITE_FULL]
            .contains(e.resultCode)
    }

    /// SQLite was refused a write by the file system: say which file, and why.
    func explained(_ error: Error) -> String {
        var text = "\(path): \(ResultsStore.describe(error))"
        if let e = error as? DatabaseError, e.resultCode == .SQLITE_READONLY || e.resultCode == .SQLITE_CANTOPEN,
           let why = ResultsStore.whyNotWritable(path) {
            text += " (\(why))"
        }
        return text
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError {
            return e.message ?? "\(e.resultCode)"
        }
        return "\(error)"
    }

    /// Closes the connections, and folds the write-ahead log into the file and removes it
    /// when no other process has the database open. SQLite does that as the last connection
    /// closes, but GRDB's pool closes its writer before its read-only readers, so the last
    /// one to go cannot: one plain connection, opened and closed after the pool, is the last.
    /// A log left behind keeps every later reader writing a -shm beside the file (and on a
    /// read-only mount, unable to read it). Use after close throws.
    public func close() {
        if let queue = writer as? DatabaseQueue { try? queue.close(); return }
        guard let pool = writer as? DatabasePool, (try? pool.close()) != nil else { return }
        var config = Configuration()
        config.busyMode = .timeout(1)
        if let last = try? DatabaseQueue(path: path, configuration: config) { try? last.close() }
    }

    /// No tables yet: a database another writer has only begun to create.
    public func isNew() throws -> Bool { try writer.read { try !$0.tableExists("runs") } }

    // MARK: schema

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                  id TEXT PRIMARY KEY NOT NULL,          -- sha256 of the canonical config, 16 hex digits
                  config TEXT NOT NULL,                  -- canonical JSON: defaults filled, keys sorted
                  status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'done', 'failed')),
                  attempts INTEGER NOT NULL DEFAULT 0,
                  host TEXT,
                  pid INTEGER,
                  created_at REAL NOT NULL,              -- unix seconds
                  started_at REAL,
                  finished_at REAL,
                  heartbeat_at REAL,
                  error TEXT,
                  code_version TEXT
                );
                CREATE TABLE run_sweeps (
                  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                  sweep TEXT NOT NULL,
                  PRIMARY KEY (run_id, sweep)
                );
                CREATE TABLE metrics (
                  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                  phase TEXT NOT NULL,
                  step INTEGER NOT NULL,
                  name TEXT NOT NULL,
                  value REAL,
                  PRIMARY KEY (run_id, phase, step, name)
                );
                CREATE TABLE results (
                  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                  name TEXT NOT NULL,
                  value REAL,
                  PRIMARY KEY (run_id, name)
                );
                CREATE INDEX runs_status ON runs(status);
                CREATE INDEX run_sweeps_sweep ON run_sweeps(sweep);
                -- The common axes as columns, for hand-written SQL.
                CREATE VIEW run_axes AS SELECT
                  id, status,
                  json_extract(config, '$.method') AS method,
                  json_extract(config, '$.encoder.preset') AS encoder,
                  json_extract(config, '$.mask.type') AS mask_type,
                  json_extract(config, '$.mask.patch') AS mask_patch,
                  json_extract(config, '$.mask.ratio') AS mask_ratio,
                  json_extract(config, '$.head.type') AS head,
                  json_extract(config, '$.target.type') AS target,
                  json_extract(config, '$.target.pred_resolution') AS pred_resolution,
                  json_extract(config, '$.target.loss_on') AS loss_on,
                  json_extract(config, '$.pretrain.epochs') AS pretrain_epochs,
                  json_extract(config, '$.seed') AS seed
                FROM runs;
                """)
        }
        registerSlurmMigration(&m)
        // The OpenBLAS kernel a run ran on and who chose it ("Cooperlake (mimlab)"): runs on
        // different kernels share a run id but not their last digits.
        m.registerMigration("v3-blas-kernel") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN blas_kernel TEXT")
        }
        // The compute threads the run had: its seconds mean little without them (two 1-thread
        // runs side by side on 2 cores each take about as long as one 2-thread run alone).
        m.registerMigration("v4-threads") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN threads INTEGER")
        }
        // Where a running run is ("pretrain 312/625"), kept fresh by its worker's heartbeat:
        // an hour-long run is otherwise a bare "running" to the pool's progress line and to
        // `sweep status` on any host. NULL once it ends or is given back.
        m.registerMigration("v5-progress") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN progress TEXT")
        }
        return m
    }

    // MARK: registering and reading runs

    /// Adds runs that are not in the database yet (as pending) and tags them with the sweep;
    /// runs already known keep their status, whichever sweep recorded them. The sweep's
    /// membership becomes exactly `runs`.
    public func register(_ runs: [(id: String, config: String)], sweep: String) throws {
        try write { db in
            let now = Date().timeIntervalSince1970
            for r in runs {
                try db.execute(sql: "INSERT OR IGNORE INTO runs (id, config, status, created_at) VALUES (?, ?, 'pending', ?)",
                               arguments: [r.id, r.config, now])
                try db.execute(sql: "INSERT OR IGNORE INTO run_sweeps (run_id, sweep) VALUES (?, ?)", arguments: [r.id, sweep])
            }
            // The sweep is what its spec says now: runs an earlier version of the spec asked
            // for leave it. Those that never ran and no other sweep wants are forgotten;
            // anything that ran (done or failed) stays in the database for `query`.
            let current = Set(runs.map(\.id))
            let linked = try String.fetchAll(db, sql: "SELECT run_id FROM run_sweeps WHERE sweep = ?", arguments: [sweep])
            for id in linked where !current.contains(id) {
                try db.execute(sql: "DELETE FROM run_sweeps WHERE run_id = ? AND sweep = ?", arguments: [id, sweep])
                try db.execute(sql: """
                    DELETE FROM runs WHERE id = ? AND status = 'pending'
                      AND NOT EXISTS (SELECT 1 FROM run_sweeps WHERE run_id = runs.id)
                    """, arguments: [id])
            }
        }
    }

    /// Whether `register(ids, sweep:)` would leave the database as it is: the sweep's runs
    /// are exactly `ids` (run_sweeps references runs, so each of them is a run).
    public func isRegistered(_ ids: [String], sweep: String) throws -> Bool {
        try read { db in
            try String.fetchSet(db, sql: "SELECT run_id FROM run_sweeps WHERE sweep = ?", arguments: [sweep]) == Set(ids)
        }
    }

    /// The records of the given run ids that the database knows.
    public func records(ids: [String]) throws -> [String: RunRecord] {
        try read { db in
            var out: [String: RunRecord] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE id IN (\(marks))", arguments: StatementArguments(chunk)) {
                    let r = try RunRecord(row: row)
                    out[r.id] = r
                }
            }
            return out
        }
    }

    public func record(id: String) throws -> RunRecord? { try records(ids: [id])[id] }

    /// Final results of done runs, by run id.
    public func results(ids: [String]) throws -> [String: [String: Double]] {
        try read { db in
            var out: [String: [String: Double]] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT run_id, name, value FROM results WHERE run_id IN (\(marks))",
                                            arguments: StatementArguments(chunk)) {
                    let id = try row.checkedRunID("run_id", table: "results")
                    let v = try row.checkedOptional("value", Double.self, table: "results", run: id)
                    out[id, default: [:]][try row.checked("name", table: "results", run: id)] = v ?? .nan
                }
            }
            return out
        }
    }

    public func metrics(id: String) throws -> [MetricPoint] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT phase, step, name, value FROM metrics WHERE run_id = ? ORDER BY phase, step, name",
                             arguments: [id]).map { try MetricPoint(row: $0, run: id) }
        }
    }

    // MARK: the run life cycle

    /// Claims the first run of `ids` (in order) that needs running, in one IMMEDIATE
    /// transaction so two workers never claim the same run: a pending run, a failed one that
    /// failed before `retryFailedBefore` (so a retried run that fails again is not retried
    /// forever by the same sweep), or a running one whose worker is gone (`RunRecord.isStale`).
    /// Returns nil when every run is done, failed (without retry) or running elsewhere.
    public func claim(from ids: [String], worker: WorkerIdentity, retryFailedBefore: Double?,
                      staleAfter: TimeInterval = RunRecord.defaultStaleAfter) throws -> ClaimedRun? {
        try write { db in
            let now = Date().timeIntervalSince1970
            let known = try Dictionary(uniqueKeysWithValues: ResultsStore.fetchRecords(db, ids: ids).map { ($0.id, $0) })
            for id in ids {
                guard let r = known[id] else { continue }
                let eligible: Bool
                switch r.status {
                case .pending: eligible = true
                case .failed: eligible = retryFailedBefore.map { (r.finishedAt ?? 0) < $0 } ?? false
                case .running: eligible = r.isStale(now: now, thisHost: worker.host, staleAfter: staleAfter)
                case .done: eligible = false
                }
                guard eligible else { continue }
                try db.execute(sql: """
                    UPDATE runs SET status = 'running', attempts = attempts + 1, host = ?, pid = ?,
                      started_at = ?, heartbeat_at = ?, finished_at = NULL, error = NULL, code_version = ?, blas_kernel = ?,
                      threads = ?, progress = NULL
                    WHERE id = ?
                    """, arguments: [worker.host, worker.pid, now, now, worker.codeVersion, worker.blasKernel, worker.threads, id])
                return ClaimedRun(id: id, config: r.config, attempt: r.attempts + 1, previousStatus: r.status)
            }
            return nil
        }
    }

    /// Tells other workers this run is still alive, and anyone looking where it is
    /// (`progress`, e.g. "pretrain 312/625"; nil keeps the last one).
    public func heartbeat(id: String, worker: WorkerIdentity, progress: String? = nil) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE runs SET heartbeat_at = ?, progress = coalesce(?, progress)
                WHERE id = ? AND status = 'running' AND pid = ? AND host = ?
                """, arguments: [Date().timeIntervalSince1970, progress, id, worker.pid, worker.host])
        }
    }

    /// Records a finished run: status, final results and metric history in one transaction,
    /// replacing anything an earlier (crashed) attempt left.
    public func complete(id: String, results: [String: Double], metrics: [MetricPoint]) throws {
        try write { db in
            try ResultsStore.replaceOutcome(db, id: id, results: results, metrics: metrics)
            try db.execute(sql: "UPDATE runs SET status = 'done', finished_at = ?, heartbeat_at = ?, error = NULL, progress = NULL WHERE id = ?",
                           arguments: [Date().timeIntervalSince1970, Date().timeIntervalSince1970, id])
        }
    }

    /// Records a failed run with its reason (and the history up to the failure).
    public func fail(id: String, error: String, metrics: [MetricPoint]) throws {
        try write { db in
            try ResultsStore.replaceOutcome(db, id: id, results: [:], metrics: metrics)
            try db.execute(sql: "UPDATE runs SET status = 'failed', finished_at = ?, error = ?, progress = NULL WHERE id = ?",
                           arguments: [Date().timeIntervalSince1970, error, id])
        }
    }

    /// Gives a claimed run back (the worker was interrupted): it is pending again.
    public func release(id: String, worker: WorkerIdentity) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET status = 'pending', pid = NULL, heartbeat_at = NULL, progress = NULL WHERE id = ? AND status = 'running' AND pid = ? AND host = ?",
                           arguments: [id, worker.pid, worker.host])
        }
    }

    /// A run's metric history and final results, replacing whatever an earlier attempt left
    /// (non-finite values are stored as NULL).
    static func replaceOutcome(_ db: Database, id: String, results: [String: Double], metrics: [MetricPoint]) throws {
        try db.execute(sql: "DELETE FROM results WHERE run_id = ?", arguments: [id])
        for (name, value) in results.sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO results (run_id, name, value) VALUES (?, ?, ?)",
                           arguments: [id, name, value.isFinite ? value : nil])
        }
        try db.execute(sql: "DELETE FROM metrics WHERE run_id = ?", arguments: [id])
        let stmt = try db.makeStatement(sql: "INSERT OR REPLACE INTO metrics (run_id, phase, step, name, value) VALUES (?, ?, ?, ?, ?)")
        for m in metrics {
            try stmt.execute(arguments: [id, m.phase, m.step, m.name, m.value.isFinite ? m.value : nil])
        }
    }

    static func fetchRecords(_ db: Database, ids: [String]) throws -> [RunRecord] {
        var out: [RunRecord] = []
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            let marks = chunk.map { _ in "?" }.joined(separator: ",")
            out += try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE id IN (\(marks))", arguments: StatementArguments(chunk))
                .map { try RunRecord(row: $0) }
        }
        return out
    }

    // MARK: transactions

    /// An IMMEDIATE write transaction: the write lock is taken up front, so a transaction
    /// that reads and then writes never fails half-way with SQLITE_BUSY.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            var out: T?
            try writer.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    out = try body(db)
                    return .commit
                }
            }
            return out!
        } catch let e as ResultsError { throw e } catch {
            throw ResultsError(explained(error))
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try writer.read(body) } catch let e as ResultsError { throw e } catch {
            throw ResultsError("\(path): \(ResultsStore.describe(error))")
        }
    }

    /// GFLOP per wall second of recently finished runs (their `*.gflop` over their
    /// `*.seconds` results), newest first: what time estimates are calibrated on.
    public func doneRunThroughputs(limit: Int) throws -> [Double] {
        try read { db in
            try Optional<Double>.fetchAll(db, sql: """
                SELECT sum(CASE WHEN r.name LIKE '%.gflop' THEN r.value END) / sum(CASE WHEN r.name LIKE '%.seconds' THEN r.value END)
                FROM runs JOIN results r ON r.run_id = runs.id
                WHERE runs.status = 'done'
                GROUP BY runs.id ORDER BY runs.finished_at DESC LIMIT ?
                """, arguments: [limit]).compactMap { $0 }
        }
    }

    /// Folds the write-ahead log into the database file (and empties it), so the one file
    /// holds every committed transaction and can be copied or committed to git while
    /// workers keep running. Returns the pages the log held and how many were moved.
    public func checkpoint() throws -> (logPages: Int, moved: Int) {
        do {
            return try writer.writeWithoutTransaction { db in
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                let busy: Int = row?[0] ?? 1
                if busy != 0 { throw ResultsError("\(path): another process held the database during the checkpoint; try again") }
                return (row?[1] ?? 0, row?[2] ?? 0)
            }
        } catch let e as ResultsError { throw e } catch {
            throw ResultsError("\(path): \(ResultsStore.describe(error))")
        }
    }

    /// Rows per table (runs, run_sweeps, metrics, results), for summaries and checks.
    public func rowCounts() throws -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for t in ["runs", "run_sweeps", "metrics", "results"] {
                out[t] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(t)") ?? 0
            }
            return out
        }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "?" }
    }

    /// Row counts per status over every run in the database, for summaries.
    public func countsByStatus() throws -> [RunStatus: Int] {
        try read { db in
            var out: [RunStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM runs GROUP BY status") {
                let text: String = try row.checked("status", table: "runs", run: nil)
                guard let s = RunStatus(rawValue: text) else {
                    throw ResultsError("table runs, column status = '\(text.prefix(40))': not a run status (valid: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                out[s] = try row.checked("n", table: "runs", run: nil)
            }
            return out
        }
    }
}

public struct ResultsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
