import XCTest
import Results

/// A sweep's membership follows its spec: runs an edited spec no longer asks for leave it;
/// those that never ran are forgotten, those that ran stay in the database.
final class RegisterTests: XCTestCase {
    func testRegisteringAnEditedSpecDropsItsOldPendingRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-register-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ResultsStore(path: "\(dir)/r.sqlite")
        let path = "\(dir)/r.sqlite"
        func texts(_ sql: String) throws -> [[String]] {
            try ReadOnlySQL.run(sql, path: path)[0].rows.map { $0.map { if case .text(let t) = $0 { t } else { "?" } } }
        }
        func sweeps() throws -> [String: [String]] {
            let rows = try texts("SELECT run_id, sweep FROM run_sweeps ORDER BY run_id, sweep")
            return Dictionary(grouping: rows, by: { $0[1] }).mapValues { $0.map { $0[0] } }
        }
        func ids() throws -> [String] { try texts("SELECT id FROM runs ORDER BY id").map { $0[0] } }

        try store.register([("a", "{}"), ("b", "{}"), ("c", "{}")], sweep: "s")
        try store.register([("c", "{}")], sweep: "t")
        let worker = WorkerIdentity(codeVersion: "test")
        let claimed = try XCTUnwrap(try store.claim(from: ["a"], worker: worker, retryFailedBefore: nil))
        try store.complete(id: claimed.id, results: ["finetune.top1": 12.5], metrics: [])

        // The edited spec asks for b and d only.
        try store.register([("b", "{}"), ("d", "{}")], sweep: "s")
        XCTAssertEqual(try sweeps(), ["s": ["b", "d"], "t": ["c"]])
        XCTAssertEqual(try ids(), ["a", "b", "c", "d"], "a ran (kept); c is still wanted by t")
        try store.register([], sweep: "t")
        XCTAssertEqual(try ids(), ["a", "b", "d"], "c never ran and no sweep wants it")
        XCTAssertEqual(try store.results(ids: ["a"])["a"]?["finetune.top1"], 12.5)
    }
}
