import Foundation
import GRDB

/// What a file given as the results database is, checked before mimlab reads or writes it:
/// each wrong kind of file (a directory, an empty file, not SQLite, another program's
/// database, a newer mimlab's) is one line saying which, instead of SQLite's "unable to
/// open database file" or "no such table: runs" deep in a command.
enum DatabaseFile {
    static let sqliteMagic = Array("SQLite format 3\u{0}".utf8)

    /// Checks the path itself; returns whether the file exists. With `emptyIsNew`, a 0-byte
    /// file counts as not there yet: SQLite creates a database file empty and writes its
    /// header only with the first transaction, so a writer may meet another's new file so.
    static func precheck(path: String, emptyIsNew: Bool = false) throws -> Bool {
        guard !path.isEmpty else {
            throw ResultsError("--db: the results database path is empty; give a file, e.g. \(ResultsStore.defaultPath)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        if isDir.boolValue {
            throw ResultsError("\(path): is a directory; --db takes the results database file, e.g. \(ResultsStore.defaultPath)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ResultsError("\(path): cannot be read (\(String(cString: strerror(errno)))); mimlab needs to read the results database")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        if head.isEmpty {
            if emptyIsNew { return false }
            throw ResultsError("\(path): is an empty file (0 bytes), not a results database; remove it and `mimlab sweep run` creates one")
        }
        guard head == sqliteMagic else {
            throw ResultsError("\(path): is not an SQLite database (no SQLite header); --db takes mimlab's results database")
        }
        return true
    }

    /// The schema in the file is mimlab's and no newer than this build's: every migration it
    /// records is one this build registers (compared by identifier, so migrations added
    /// later need nothing here). A database without tables, or with only GRDB's migrations
    /// table and no migration in it, is a new one (`allowEmpty`).
    static func checkSchema(_ db: Database, path: String, migrator: DatabaseMigrator, allowEmpty: Bool) throws {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        // GRDB creates its migrations table in a transaction of its own before the first
        // migration's: a file holding only that table, with no migration recorded in it, is
        // one another writer is creating (a recorded one with its tables gone is damaged).
        let beingCreated = try tables == ["grdb_migrations"]
            && (try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") ?? 0) == 0
        if tables.isEmpty || beingCreated {
            if allowEmpty { return }
            throw ResultsError("\(path): an SQLite database with no tables, not a results database yet; `mimlab sweep run` fills it")
        }
        guard tables.contains("grdb_migrations"), tables.contains("runs") else {
            let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
            throw ResultsError("\(path): an SQLite database, but not mimlab's results database (its tables: \(shown); "
                               + "mimlab's has runs, results, metrics); give another --db")
        }
        let applied = try migrator.appliedIdentifiers(db)
        let unknown = applied.subtracting(migrator.migrations).sorted()
        if !unknown.isEmpty {
            throw ResultsError("\(path): written by a newer mimlab (schema migration \(unknown.joined(separator: ", ")) is unknown "
                               + "to this build, which knows \(migrator.migrations.joined(separator: ", "))); use a mimlab at least as new")
        }
    }

    /// A read-only connection that writes nothing: not the file (no change counter, no
    /// schema cookie) and, when no writer is around (no -wal beside it), no -wal/-shm
    /// either, as SQLite opens such a file `immutable`. With a -wal present (a sweep is
    /// writing, or left its log unfolded), the connection reads through it (`readOnlyTarget`).
    static func openReadOnly(path: String, migrator: DatabaseMigrator, allowEmpty: Bool = false) throws -> DatabaseQueue {
        guard try precheck(path: path) else {
            throw ResultsError("\(path): no results database there (run a sweep first, or pass --db PATH)")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(ResultsStore.busyTimeout)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA query_only = ON") }
        let target = try readOnlyTarget(path)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: target, configuration: config)
        } catch {
            throw ResultsError("\(path): cannot open the results database: \(ResultsStore.describe(error))")
        }
        do {
            try queue.read { db in try checkSchema(db, path: path, migrator: migrator, allowEmpty: allowEmpty) }
        } catch let e as ResultsError { throw e } catch {
            throw ResultsError("\(path): cannot read the results database: \(ResultsStore.describe(error))")
        }
        return queue
    }

    /// How to open `path` for reading. With no -wal beside it, `immutable`. With one, through
    /// it, which needs the -shm index beside the file; where SQLite cannot create that (a
    /// read-only directory or mount, where no writer can be at work either) an empty log is
    /// nothing to read, so the file is opened `immutable` after all, and a log that holds
    /// changes is refused in words rather than as "unable to open database file".
    static func readOnlyTarget(_ path: String) throws -> String {
        let immutable = uri(path) + "?immutable=1"
        let log = path + "-wal"
        guard FileManager.default.fileExists(atPath: log) else { return immutable }
        let dir = (path as NSString).deletingLastPathComponent
        guard !FileManager.default.fileExists(atPath: path + "-shm"), access(dir.isEmpty ? "." : dir, W_OK) != 0 else { return path }
        let why = errno == EROFS ? "a read-only file system" : String(cString: strerror(errno))
        let logSize = (try? FileManager.default.attributesOfItem(atPath: log))?[.size] as? Int ?? 0
        if logSize == 0 { return immutable }
        throw ResultsError("\(path): its write-ahead log \(log) holds \(logSize) bytes not yet folded into the file, and SQLite cannot "
                           + "create the -shm index it needs to read them (the directory is not writable: \(why)); "
                           + "where it is writable, `mimlab results checkpoint --db \(path)` folds the log in")
    }

    /// An SQLite `file:` URI for a path (the characters URIs reserve escaped).
    static func uri(_ path: String) -> String {
        var out = "file:"
        for c in path.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "?": out += "%3f"
            case "#": out += "%23"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
