import Foundation
import GRDB

/// What `ResultsStore.merge(shardsIn:)` did, file by file.
public struct MergeReport: Sendable, Equatable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Shards whose run was ingested (file names).
    public var merged: [String] = []
    /// Shards the database already had: the run is done there, or holds exactly this attempt.
    public var alreadyPresent: [String] = []
    /// Shards refused (corrupt, truncated, not complete, not a shard, in conflict with the
    /// database): left where they are, the database untouched by them.
    public var failed: [Problem] = []
    /// `.tmp` files: shards still being written, or left by a task that died before it finished.
    public var incomplete: [Problem] = []

    public init() {}

    public var summary: String {
        "\(merged.count) merged, \(alreadyPresent.count) already present, \(failed.count) failed, \(incomplete.count) incomplete (.tmp)"
    }
}

extension ResultsStore {
    /// Folds every `*.shard.sqlite` in `dir` (in name order) into this database, each in
    /// one transaction, and moves it to `dir/merged/`, so running the merge again costs
    /// nothing and changes nothing. A run the database has done is never overwritten (its
    /// sweep links are still added); otherwise the shard's run replaces what the database
    /// has: status, attempts, host, times, error, metric history and results. Shards that
    /// fail their checks (`ResultShard.read`) are reported and left in place, as are `.tmp`
    /// files; neither touches the database.
    ///
    /// A shard is claimed before it is ingested, by renaming it into `merged/` under a
    /// private name: a task that replaces the shard meanwhile (a retry) then writes a new
    /// file for the next merge, instead of having its file moved away unread. Merges of one
    /// directory take turns on `merged/.lock`; a claim left by a merge that died is put back
    /// and merged again (ingesting is idempotent, so whether it got in first doesn't matter).
    public func merge(shardsIn dir: String) throws -> MergeReport {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ResultsError("\(dir): no such shard directory")
        }
        let mergedDir = "\(dir)/merged"
        do {
            try FileManager.default.createDirectory(atPath: mergedDir, withIntermediateDirectories: true)
        } catch {
            throw ResultsError("\(mergedDir): cannot create: \(error.localizedDescription)")
        }
        let lock = try ShardMergeLock(path: "\(mergedDir)/.lock")
        defer { lock.release() }

        for name in try listing(mergedDir) where name.hasPrefix(".") && name.hasSuffix(ShardClaim.suffix) {
            guard let shardName = ShardClaim.shardName(claimName: name) else { continue }
            ShardClaim.putBack(claim: "\(mergedDir)/\(name)", to: "\(dir)/\(shardName)")
        }

        var report = MergeReport()
        for name in try listing(dir) {
            let path = "\(dir)/\(name)"
            if name.hasSuffix(".tmp") {
                report.incomplete.append(.init(file: name, reason: "not finished: a task is still writing it, or died before it finished"))
                continue
            }
            guard name.hasSuffix(ResultShard.fileSuffix) else { continue }
            guard let id = ResultShard.runID(fileName: name) else {
                report.failed.append(.init(file: name, reason: "not a shard name (<run id>\(ResultShard.fileSuffix))"))
                continue
            }
            // Checked where it lies first, so a bad shard is never moved.
            do { _ = try ResultShard.read(path: path, expectedID: id) } catch {
                report.failed.append(.init(file: name, reason: (error as? ShardError)?.reason ?? "\(error)"))
                continue
            }
            let claim = "\(mergedDir)/\(ShardClaim.claimName(shardName: name))"
            guard rename(path, claim) == 0 else {
                if errno == ENOENT { continue }  // gone since the listing: nothing of ours to do
                report.failed.append(.init(file: name, reason: "cannot move into \(mergedDir): \(String(cString: strerror(errno)))"))
                continue
            }
            do {
                // The claimed file, which may be a replacement that arrived after the check above.
                let shard = try ResultShard.read(path: claim, expectedID: id)
                let outcome = try ingest(shard)
                if case .conflict(let reason) = outcome { throw ShardError(file: name, reason: reason + "; not merged") }
                guard rename(claim, "\(mergedDir)/\(name)") == 0 else {
                    throw ResultsError("merged, but cannot rename \(claim) to \(mergedDir)/\(name): \(String(cString: strerror(errno)))")
                }
                if outcome == .merged { report.merged.append(name) } else { report.alreadyPresent.append(name) }
            } catch {
                ShardClaim.putBack(claim: claim, to: path)
                report.failed.append(.init(file: name, reason: (error as? ShardError)?.reason ?? "\(error)"))
            }
        }
        return report
    }

    /// What `merge(shardsIn: dir)` would find, without a database: the shards it would
    /// refuse and the `.tmp` files, and whether anything is left to ingest (a sound shard, or
    /// a claim an interrupted merge left). With nothing to ingest, the caller need not open
    /// the database for writing at all.
    public static func previewMerge(shardsIn dir: String) -> (report: MergeReport, mergeable: Bool) {
        var report = MergeReport()
        var mergeable = false
        let claims = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/merged")) ?? []
        if claims.contains(where: { $0.hasPrefix(".") && $0.hasSuffix(ShardClaim.suffix) }) { mergeable = true }
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
            if name.hasSuffix(".tmp") {
                report.incomplete.append(.init(file: name, reason: "not finished: a task is still writing it, or died before it finished"))
                continue
            }
            guard name.hasSuffix(ResultShard.fileSuffix) else { continue }
            guard let id = ResultShard.runID(fileName: name) else {
                report.failed.append(.init(file: name, reason: "not a shard name (<run id>\(ResultShard.fileSuffix))"))
                continue
            }
            do { _ = try ResultShard.read(path: "\(dir)/\(name)", expectedID: id); mergeable = true } catch {
                report.failed.append(.init(file: name, reason: (error as? ShardError)?.reason ?? "\(error)"))
            }
        }
        return (report, mergeable)
    }

    /// Entry names of `dir`, sorted.
    private func listing(_ dir: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: dir).sorted() } catch {
            throw ResultsError("\(dir): cannot list: \(error.localizedDescription)")
        }
    }

    enum IngestOutcome: Equatable {
        case merged, alreadyPresent
        case conflict(String)
    }

    /// One shard into the database, in one transaction. `alreadyPresent` when the database
    /// had it (the run done, or this very attempt recorded) and gained at most sweep links.
    func ingest(_ shard: ResultShard) throws -> IngestOutcome {
        let run = shard.run
        return try write { db in
            let existing = try ResultsStore.fetchRecords(db, ids: [run.id]).first
            if let existing, !ResultsStore.sameConfig(existing.config, run.config) {
                return .conflict("run \(run.id) has another config in the database than in the shard")
            }
            if existing == nil {
                try run.insert(db, createdAt: shard.createdAt)
            }
            // Even for a run that is done already: the shard says which sweeps asked for it.
            for sweep in run.sweeps {
                try db.execute(sql: "INSERT OR IGNORE INTO run_sweeps (run_id, sweep) VALUES (?, ?)", arguments: [run.id, sweep])
            }
            if let e = existing {
                let sameAttempt = e.status == run.status && e.attempts == run.attempts && e.startedAt == run.startedAt
                    && e.finishedAt == run.finishedAt && e.host == run.host && e.pid == run.pid
                if e.status == .done || sameAttempt { return .alreadyPresent }
                try db.execute(sql: """
                    UPDATE runs SET status = ?, attempts = ?, host = ?, pid = ?, started_at = ?, finished_at = ?,
                      heartbeat_at = ?, error = ?, code_version = ?, blas_kernel = ?, threads = ?, progress = NULL
                    WHERE id = ?
                    """, arguments: [run.status.rawValue, run.attempts, run.host, run.pid, run.startedAt, run.finishedAt,
                                     run.finishedAt, run.error, run.codeVersion, run.blasKernel, run.threads, run.id])
            }
            try ResultsStore.replaceOutcome(db, id: run.id, results: shard.results, metrics: shard.metrics)
            return .merged
        }
    }

    /// Configs are canonical JSON, so equal strings are the rule; parsed equality also
    /// accepts one written with other whitespace or number spelling.
    static func sameConfig(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? NSObject,
              let y = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? NSObject else { return false }
        return x.isEqual(y)
    }
}

/// A shard a merge has taken out of the shard directory while it ingests it:
/// `merged/.<shard name>.merging`.
enum ShardClaim {
    static let suffix = ".merging"

    static func claimName(shardName: String) -> String { ".\(shardName)\(suffix)" }

    static func shardName(claimName: String) -> String? {
        guard claimName.hasPrefix("."), claimName.hasSuffix(suffix) else { return nil }
        let name = String(claimName.dropFirst().dropLast(suffix.count))
        return ResultShard.runID(fileName: name) == nil ? nil : name
    }

    /// Returns a claimed shard to the shard directory, unless a newer shard of the run has
    /// arrived there meanwhile: that one replaces it, as a retried task's shard does.
    static func putBack(claim: String, to path: String) {
        // link(2) never replaces an existing file, unlike rename(2).
        if link(claim, path) == 0 || errno == EEXIST {
            unlink(claim)
        } else if !FileManager.default.fileExists(atPath: path) {
            // A filesystem without hard links: the small race is better than losing the shard.
            rename(claim, path)
        }
    }
}

/// An exclusive lock on a file, held for one merge, so two merges of one directory do not
/// take each other's claims for leftovers of a dead merge.
final class ShardMergeLock {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw ResultsError("\(path): cannot open the merge lock: \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            // Filesystems without flock (some NFS and Lustre mounts) report it here; merging
            // unlocked is still correct, since a stolen claim only makes a shard merge twice.
            break
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
