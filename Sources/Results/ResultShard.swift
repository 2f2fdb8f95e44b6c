import Foundation
import GRDB

/// One finished run in a file of its own: what a task of a Slurm job array writes instead
/// of sharing the results database, so no two tasks (on any number of nodes, over a shared
/// filesystem where SQLite's locking can't be trusted) ever write one database file.
/// `ResultsStore.merge(shardsIn:)` folds shards into the database.
///
/// A shard is an ordinary SQLite file with the results database's own schema (so
/// `mimlab sql --db X.shard.sqlite` reads it), holding exactly one run, plus a
/// `shard_meta(key, value)` table: `format` (`formatVersion`) and `complete = 1`. It is
/// written under a temp name and renamed to `<dir>/<run id>.shard.sqlite` only once it is
/// whole, in rollback-journal mode (not WAL), so the one file is the whole shard.
public struct ResultShard: Sendable {
    /// Bumped when what `read` expects of a shard changes; a merge refuses other versions
    /// instead of guessing at them.
    public static let formatVersion = 1
    public static let fileSuffix = ".shard.sqlite"

    /// The run a shard records: what `runs` and `run_sweeps` hold for it.
    public struct Run: Sendable, Equatable {
        public var id: String
        /// Canonical config JSON, as `ResultsStore.register` stores it.
        public var config: String
        public var sweeps: [String]
        /// `.done` or `.failed`: a shard records a finished run.
        public var status: RunStatus
        public var attempts: Int
        public var host: String?
        public var pid: Int?
        public var codeVersion: String?
        public var blasKernel: String?
        public var threads: Int?
        public var startedAt: Double?
        public var finishedAt: Double?
        public var error: String?

        public init(id: String, config: String, sweeps: [String], status: RunStatus, attempts: Int = 1,
                    host: String? = WorkerIdentity.hostName, pid: Int? = Int(getpid()), codeVersion: String? = nil,
                    blasKernel: String? = nil, threads: Int? = nil,
                    startedAt: Double? = nil, finishedAt: Double? = Date().timeIntervalSince1970, error: String? = nil) {
            self.id = id; self.config = config; self.sweeps = sweeps; self.status = status; self.attempts = attempts
            self.host = host; self.pid = pid; self.codeVersion = codeVersion; self.blasKernel = blasKernel
            self.threads = threads; self.startedAt = startedAt; self.finishedAt = finishedAt; self.error = error
        }
    }

    public var run: Run
    /// When the shard was written (becomes `created_at` of a run the database did not know).
    public var createdAt: Double
    /// Final results; NaN where the value was not finite (stored as NULL, as in the database).
    public var results: [String: Double]
    public var metrics: [MetricPoint]

    public static func fileName(id: String) -> String { id + fileSuffix }

    /// The run id a shard file name stands for (`<id>.shard.sqlite`), nil for other names.
    public static func runID(fileName: String) -> String? {
        guard fileName.hasSuffix(fileSuffix), !fileName.hasPrefix(".") else { return nil }
        let id = String(fileName.dropLast(fileSuffix.count))
        return id.isEmpty ? nil : id
    }

    // MARK: writing

    /// Writes the shard of one finished run to `<dir>/<run id>.shard.sqlite` and returns
    /// that path. The file appears under that name only whole and on disk: it is written as
    /// `<dir>/.<id>.<pid>.tmp`, synced, closed and renamed.
    ///
    /// A shard already there for the id (a retried task) is replaced. That is safe: the id
    /// is the hash of the config, so both describe the same run and the later attempt is the
    /// one to keep; the rename is atomic, so a merge reads either the old file or the new
    /// one, never a mix; and a merge claims a shard by renaming it away before reading it,
    /// so a replacement arriving mid-merge is a new file that the next merge picks up. If
    /// the old shard was merged already, the database's rules apply (a done run stays done).
    @discardableResult
    public static func write(dir: String, run: Run, results: [String: Double], metrics: [MetricPoint]) throws -> String {
        try check(run, results: results)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw ResultsError("\(dir): cannot create the shard directory: \(error.localizedDescription)")
        }
        let final = "\(dir)/\(fileName(id: run.id))"
        let tmp = "\(dir)/.\(run.id).\(getpid()).tmp"
        do {
            try writeFile(at: tmp, run: run, results: results, metrics: metrics)
            // SQLite synced at commit; this sync also covers a build whose `synchronous`
            // differs. The data must be on disk before the rename is.
            try fsyncPath(tmp, isDirectory: false)
        } catch {
            removeDatabaseFile(tmp)
            throw error
        }
        guard rename(tmp, final) == 0 else {
            let reason = String(cString: strerror(errno))
            removeDatabaseFile(tmp)
            throw ResultsError("\(final): cannot rename the finished shard into place: \(reason)")
        }
        // So that a node crash after the task reported success does not lose the rename.
        // Some filesystems refuse to sync a directory; the rename has happened either way.
        try? fsyncPath(dir, isDirectory: true)
        return final
    }

    /// Writes a shard file at `path` itself, in one transaction, without the temp name and
    /// rename that `write` adds (tasks call `write`). With `markComplete: false` the
    /// `complete = 1` marker is left out: a file `merge` must refuse, for testing that check.
    public static func writeFile(at path: String, run: Run, results: [String: Double], metrics: [MetricPoint],
                                 markComplete: Bool = true) throws {
        try check(run, results: results)
        // A file left by an earlier process with this pid, with a hot journal beside it,
        // would be "recovered" into the new shard: start from nothing.
        removeDatabaseFile(path)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            // One self-contained file: no -wal beside it to lose in the rename; every commit synced.
            try db.execute(sql: "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL")
        }
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try ResultsStore.migrator.migrate(queue)
            try queue.inTransaction(.immediate) { db in
                let now = Date().timeIntervalSince1970
                try db.execute(sql: "CREATE TABLE shard_meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL)")
                try run.insert(db, createdAt: now)
                for sweep in Set(run.sweeps).sorted() {
                    try db.execute(sql: "INSERT INTO run_sweeps (run_id, sweep) VALUES (?, ?)", arguments: [run.id, sweep])
                }
                try ResultsStore.replaceOutcome(db, id: run.id, results: results, metrics: metrics)
                try db.execute(sql: "INSERT INTO shard_meta (key, value) VALUES ('format', ?), ('written_at', ?)",
                               arguments: [formatVersion, now])
                // Last: a reader that finds the marker knows everything before it is there.
                if markComplete { try db.execute(sql: "INSERT INTO shard_meta (key, value) VALUES ('complete', 1)") }
                return .commit
            }
            try queue.close()
        } catch {
            throw ResultsError("\(path): cannot write the result shard: \(ResultsStore.describe(error))")
        }
    }

    /// What `write` refuses, so a bad shard fails its task instead of the merge.
    static func check(_ run: Run, results: [String: Double]) throws {
        // The id becomes a file name: keep it to what run ids are (hex digits), with room
        // for hand-made ids, and nothing that could leave the directory or hide the file.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard !run.id.isEmpty, run.id.allSatisfy({ allowed.contains($0) }) else {
            throw ResultsError("result shard: run id '\(run.id)' is not usable as a file name (letters, digits, _ and - only)")
        }
        guard run.status == .done || run.status == .failed else {
            throw ResultsError("result shard of run \(run.id): status is \(run.status.rawValue); a shard records a done or failed run")
        }
        // As `ResultsStore.fail`: a failed run has no final results, only its history.
        guard run.status == .done || results.isEmpty else {
            throw ResultsError("result shard of run \(run.id): a failed run has no results (got \(results.keys.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: reading

    /// Opens a shard read-only, checks it and returns what it holds. Throws `ShardError`
    /// (the file and the reason) for anything that is not one complete, sound shard:
    /// not SQLite, truncated, failing `PRAGMA integrity_check`, another format version, no
    /// `complete = 1`, not exactly one run, a run id other than `expectedID` (by default the
    /// one the file name stands for).
    public static func read(path: String, expectedID: String? = nil) throws -> ResultShard {
        func bad(_ reason: String) -> ShardError { ShardError(file: path, reason: reason) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw bad("no such file")
        }
        try checkHeader(path: path)
        var config = Configuration()
        config.readonly = true
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA query_only = ON") }
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard check == ["ok"] else {
                    throw bad("integrity check failed: \(check.prefix(3).joined(separator: "; "))")
                }
                guard try db.tableExists("shard_meta") else { throw bad("no shard_meta table: not a result shard") }
                let format = try DatabaseValue.fetchOne(db, sql: "SELECT value FROM shard_meta WHERE key = 'format'")
                guard let format, Int.fromDatabaseValue(format) == formatVersion else {
                    throw bad("shard format \(format.map { "\($0)" } ?? "missing"); this mimlab reads format \(formatVersion)")
                }
                guard try Bool.fetchOne(db, sql: "SELECT value = 1 FROM shard_meta WHERE key = 'complete'") == true else {
                    throw bad("incomplete: no complete = 1 in shard_meta (its writer did not finish)")
                }
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM runs")
                guard rows.count == 1 else { throw bad("holds \(rows.count) runs; a shard holds exactly one") }
                let record: RunRecord
                do { record = try RunRecord(row: rows[0]) } catch { throw bad("\(error)") }
                let expected = expectedID ?? runID(fileName: (path as NSString).lastPathComponent)
                if let expected, record.id != expected {
                    throw bad("holds run \(record.id), but its name says \(expected)")
                }
                guard record.status == .done || record.status == .failed else {
                    throw bad("run \(record.id) is \(record.status.rawValue); a shard records a done or failed run")
                }
                for table in ["run_sweeps", "metrics", "results"] {
                    let strays = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE run_id IS NOT ?", arguments: [record.id]) ?? 0
                    guard strays == 0 else { throw bad("\(table) has \(strays) rows of another run than \(record.id)") }
                }
                let sweeps = try String.fetchAll(db, sql: "SELECT sweep FROM run_sweeps ORDER BY sweep")
                var results: [String: Double] = [:]
                let metrics: [MetricPoint]
                do {
                    for row in try Row.fetchAll(db, sql: "SELECT name, value FROM results") {
                        results[try row.checked("name", table: "results", run: record.id)]
                            = try row.checkedOptional("value", Double.self, table: "results", run: record.id) ?? .nan
                    }
                    metrics = try Row.fetchAll(db, sql: "SELECT phase, step, name, value FROM metrics ORDER BY phase, step, name")
                        .map { try MetricPoint(row: $0, run: record.id) }
                } catch let e as ResultsError { throw bad(e.description) }
                // A config that is not JSON would be merged and break every later query.
                guard (try? JSONSerialization.jsonObject(with: Data(record.config.utf8))) is [String: Any] else {
                    throw bad("run \(record.id): its config is not a JSON object")
                }
                let run = Run(id: record.id, config: record.config, sweeps: sweeps, status: record.status,
                              attempts: record.attempts, host: record.host, pid: record.pid, codeVersion: record.codeVersion,
                              blasKernel: record.blasKernel, threads: record.threads, startedAt: record.startedAt, finishedAt: record.finishedAt, error: record.error)
                return ResultShard(run: run, createdAt: record.createdAt, results: results, metrics: metrics)
            }
        } catch let e as ShardError { throw e } catch {
            throw bad(ResultsStore.describe(error))
        }
    }

    /// The SQLite header's own account of the file's size, checked before SQLite opens it:
    /// a shard cut short (a copy interrupted, a full disk) can otherwise read as a smaller
    /// sound database, since the missing pages are simply not looked at.
    static func checkHeader(path: String) throws {
        func bad(_ reason: String) -> ShardError { ShardError(file: path, reason: reason) }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw bad("cannot open for reading") }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 100)) ?? Data())
        let size = (try? handle.seekToEnd()).map(Int.init) ?? 0
        guard header.count == 100, header.starts(with: Array("SQLite format 3\0".utf8)) else {
            throw bad(size == 0 ? "empty file" : "not an SQLite database")
        }
        func be32(_ at: Int) -> Int { header[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        let raw = Int(header[16]) << 8 | Int(header[17])
        let pageSize = raw == 1 ? 65536 : raw
        guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else { throw bad("not an SQLite database (page size \(raw))") }
        // The header's page count is only trusted by SQLite when "version-valid-for" matches
        // the change counter; a shard is written by one SQLite, so it always does.
        let pages = be32(28)
        guard be32(92) == be32(24), pages > 0 else { throw bad("the SQLite header carries no valid page count") }
        guard size == pages * pageSize else {
            throw bad("truncated or damaged: \(size) bytes, but its header says \(pages) pages of \(pageSize) bytes (\(pages * pageSize))")
        }
    }

    // MARK: files

    /// Removes a database file and the rollback journal SQLite may have left beside it.
    static func removeDatabaseFile(_ path: String) {
        for p in [path, path + "-journal"] { unlink(p) }
    }

    static func fsyncPath(_ path: String, isDirectory: Bool) throws {
        let fd = open(path, isDirectory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        guard fd >= 0 else { throw ResultsError("\(path): cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ResultsError("\(path): cannot sync to disk: \(String(cString: strerror(errno)))") }
    }
}

/// A shard file that is not one complete, sound shard, and why.
public struct ShardError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}

extension ResultShard.Run {
    /// The run's row, as a shard holds it and as merge adds it to a database that lacks it.
    func insert(_ db: Database, createdAt: Double) throws {
        try db.execute(sql: """
            INSERT INTO runs (id, config, status, attempts, host, pid, created_at, started_at, finished_at,
                              heartbeat_at, error, code_version, blas_kernel, threads)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, config, status.rawValue, attempts, host, pid, createdAt,
                             startedAt, finishedAt, finishedAt, error, codeVersion, blasKernel, threads])
    }
}
