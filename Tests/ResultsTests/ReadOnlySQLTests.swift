import Foundation
import XCTest
import Results

final class ReadOnlySQLTests: XCTestCase {
    var db: FixtureDB!

    override func setUpWithError() throws {
        db = try FixtureDB()
        try db.fill()
    }

    override func tearDown() { db.remove() }

    /// Bytes and modification time of the database and whatever sits beside it.
    func snapshot() throws -> [String: (Data, Date)] {
        var out: [String: (Data, Date)] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: db.dir) {
            let p = db.dir + "/" + name
            let attrs = try FileManager.default.attributesOfItem(atPath: p)
            out[name] = (try Data(contentsOf: URL(fileURLWithPath: p)), attrs[.modificationDate] as! Date)
        }
        return out
    }

    func testSelectWorks() throws {
        let t = try ReadOnlySQL.run("SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status", path: db.path)
        XCTAssertEqual(t, [QueryTable(columns: ["status", "n"], rows: [
            [.text("done"), .int(6)], [.text("failed"), .int(1)], [.text("pending"), .int(1)],
        ])])
        let avg = try ReadOnlySQL.run("""
            -- mean top-1 per patch
            SELECT a.mask_patch, avg(r.value) AS top1 FROM run_axes a
            JOIN results r ON r.run_id = a.id AND r.name = 'finetune.top1'
            WHERE a.mask_type = 'random' GROUP BY 1 ORDER BY 1
            """, path: db.path)
        XCTAssertEqual(avg[0].rows, [[.int(4), .double(41)], [.int(8), .double(47)]])
        XCTAssertEqual(ReadOnlySQL.render(avg, format: .csv), "mask_patch,top1\n4,41\n8,47\n")
    }

    func testSeveralReadStatementsAndPragmas() throws {
        let t = try ReadOnlySQL.run("SELECT 1 AS a; WITH x(v) AS (VALUES ('p')) SELECT v AS b FROM x;", path: db.path)
        XCTAssertEqual(t, [QueryTable(columns: ["a"], rows: [[.int(1)]]), QueryTable(columns: ["b"], rows: [[.text("p")]])])
        XCTAssertEqual(ReadOnlySQL.render(t, format: .json), "[\n[\n  {\"a\": 1}\n],\n[\n  {\"b\": \"p\"}\n]\n]\n")
        XCTAssertEqual(ReadOnlySQL.render(t, format: .markdown), "|   a |\n|----:|\n|   1 |\n\n| b   |\n|-----|\n| p   |\n")
        let info = try ReadOnlySQL.run("PRAGMA table_info(results)", path: db.path)
        XCTAssertEqual(info[0].rows.map { $0[1] }, [.text("run_id"), .text("name"), .text("value")])
        XCTAssertEqual(try ReadOnlySQL.run("pragma user_version", path: db.path)[0].rows, [[.int(0)]])
        XCTAssertEqual(try ReadOnlySQL.run("EXPLAIN QUERY PLAN SELECT * FROM runs", path: db.path).count, 1)
    }

    func testWritesAreRefusedAndNothingChanges() throws {
        let before = try snapshot()
        let attached = db.dir + "/other.sqlite"
        let writes = [
            "INSERT INTO runs (id, config, created_at) VALUES ('x', '{}', 0)",
            "UPDATE runs SET status = 'done'",
            "DELETE FROM runs",
            "DROP TABLE results",
            "CREATE TABLE t (a)",
            "CREATE TEMP TABLE t (a)",
            "ATTACH DATABASE '\(attached)' AS other",
            "DETACH DATABASE main",
            "PRAGMA user_version = 5",
            "PRAGMA user_version(5)",
            "PRAGMA journal_mode = DELETE",
            "PRAGMA query_only = 0",
            "PRAGMA wal_checkpoint",
            "PRAGMA optimize",
            "SELECT 1; DELETE FROM runs",
            "SELECT 1; DROP TABLE runs;",
            "WITH x AS (SELECT 1) DELETE FROM runs",
            "  /* hidden */ -- note\n delete from runs",
            "REPLACE INTO results (run_id, name, value) VALUES ('r1', 'x', 1)",
            "VACUUM",
            "VACUUM INTO '\(db.dir)/copy.sqlite'",
            "BEGIN IMMEDIATE",
            "ANALYZE",
            "REINDEX",
        ]
        for sql in writes {
            XCTAssertThrowsError(try ReadOnlySQL.run(sql, path: db.path), sql) { error in
                let text = "\(error)"
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
                XCTAssertTrue(text.hasPrefix("refusing to run"), text)
            }
        }
        XCTAssertThrowsError(try ReadOnlySQL.run("SELECT 1; DELETE FROM runs", path: db.path)) {
            XCTAssertEqual("\($0)", "refusing to run 'DELETE FROM runs': the results database is read-only here (allowed: SELECT, WITH … SELECT, VALUES, EXPLAIN, read-only PRAGMAs such as table_info)")
        }
        let after = try snapshot()
        XCTAssertEqual(before.keys.sorted(), ["mimlab.sqlite"])
        XCTAssertEqual(after["mimlab.sqlite"]?.0, before["mimlab.sqlite"]?.0, "database bytes changed")
        XCTAssertEqual(after["mimlab.sqlite"]?.1, before["mimlab.sqlite"]?.1, "database mtime changed")
        // SQLite's WAL companions may appear for the reader, but nothing is logged in them.
        XCTAssertEqual(Set(after.keys).subtracting(["mimlab.sqlite", "mimlab.sqlite-wal", "mimlab.sqlite-shm"]), [])
        XCTAssertEqual(after["mimlab.sqlite-wal"]?.0.count ?? 0, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: attached))
        XCTAssertEqual(try ReadOnlySQL.run("SELECT count(*) FROM runs", path: db.path)[0].rows, [[.int(8)]])
        XCTAssertEqual(try RunQuery().groups(path: db.path)[0].stats.n, 6)
    }

    func testErrors() throws {
        XCTAssertThrowsError(try ReadOnlySQL.run("SELEC 1", path: db.path)) {
            XCTAssertTrue("\($0)".hasPrefix("sql: "), "\($0)")
            XCTAssertTrue("\($0)".contains("syntax error"), "\($0)")
        }
        XCTAssertThrowsError(try ReadOnlySQL.run("SELECT * FROM nope", path: db.path)) {
            XCTAssertTrue("\($0)".contains("no such table: nope"), "\($0)")
        }
        XCTAssertThrowsError(try ReadOnlySQL.run("  -- nothing\n", path: db.path)) {
            XCTAssertEqual("\($0)", "sql: no statement to run")
        }
        let missing = db.dir + "/missing.sqlite"
        XCTAssertThrowsError(try ReadOnlySQL.run("SELECT 1", path: missing)) {
            XCTAssertEqual("\($0)", "\(missing): no results database there (run a sweep first, or pass --db PATH)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }
}
