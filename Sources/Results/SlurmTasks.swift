import Foundation
import GRDB

/// Which Slurm array task was last asked to make a run: what lets `sweep run --backend slurm`
/// (run again, or another sweep that shares runs) tell a run that is queued or running on the
/// cluster from one that needs submitting, so no run is submitted twice at once.
///
/// A submission first reserves its runs (a row without a job id, owned by the submitting
/// host and pid), then calls sbatch, then fills in the job id. A reservation whose owner is
/// gone (it died between the two steps) is void, as is a task the scheduler no longer knows.
public struct SlurmTaskRecord: Sendable, Equatable {
    public var runID: String
    /// nil while the submission that reserved the run is still calling sbatch.
    public var jobID: String?
    public var arrayIndex: Int
    /// The submission's directory (its sbatch script, task list and logs).
    public var submission: String
    public var host: String
    public var pid: Int
    public var submittedAt: Double

    /// The task as squeue names it: `<job id>_<array index>`.
    public var taskID: String? { jobID.map { "\($0)_\(arrayIndex)" } }

    init(row: Row) throws {
        let id = try row.checkedRunID("run_id", table: "slurm_tasks")
        runID = id
        func v<T: DatabaseValueConvertible>(_ c: String) throws -> T { try row.checked(c, table: "slurm_tasks", run: id) }
        jobID = try row.checkedOptional("job_id", table: "slurm_tasks", run: id); arrayIndex = try v("array_index")
        submission = try v("submission"); host = try v("host"); pid = try v("pid"); submittedAt = try v("submitted_at")
    }

    public init(runID: String, jobID: String?, arrayIndex: Int, submission: String, host: String, pid: Int, submittedAt: Double) {
        self.runID = runID; self.jobID = jobID; self.arrayIndex = arrayIndex; self.submission = submission
        self.host = host; self.pid = pid; self.submittedAt = submittedAt
    }

    /// A reservation (no job id yet) is alive while its submitter is: the same host's pid
    /// exists, or, seen from another host, for `reservationLifetime` after it was made.
    public static let reservationLifetime: TimeInterval = 600

    public func isLiveReservation(now: Double, thisHost: String) -> Bool {
        guard jobID == nil else { return false }
        if host == thisHost { return WorkerIdentity.processAlive(Int32(pid)) }
        return now - submittedAt < SlurmTaskRecord.reservationLifetime
    }
}

extension ResultsStore {
    static func registerSlurmMigration(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2-slurm-tasks") { db in
            try db.execute(sql: """
                CREATE TABLE slurm_tasks (
                  run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                  job_id TEXT,                           -- NULL while its submitter calls sbatch
                  array_index INTEGER NOT NULL,
                  submission TEXT NOT NULL,              -- directory of the sbatch script and task list
                  host TEXT NOT NULL,
                  pid INTEGER NOT NULL,
                  submitted_at REAL NOT NULL
                );
                """)
        }
    }

    /// The last Slurm task of each of these runs, by run id.
    public func slurmTasks(ids: [String]) throws -> [String: SlurmTaskRecord] {
        try read { db in
            var out: [String: SlurmTaskRecord] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT * FROM slurm_tasks WHERE run_id IN (\(marks))",
                                            arguments: StatementArguments(chunk)) {
                    let r = try SlurmTaskRecord(row: row)
                    out[r.runID] = r
                }
            }
            return out
        }
    }

    /// Reserves runs for a submission, in one IMMEDIATE transaction, and returns the ids it
    /// reserved (in the order given), each with its array index (0, 1, ...). A run is
    /// skipped when it is done, when another submitter holds a live reservation for it, or
    /// when its recorded task is one of `liveTasks` (queued or running per squeue) or
    /// changed since `seen` was read (someone else submitted it meanwhile).
    public func reserveSlurmTasks(_ ids: [String], seen: [String: SlurmTaskRecord], liveTasks: Set<String>,
                                  submission: String, worker: WorkerIdentity) throws -> [String] {
        try write { db in
            let now = Date().timeIntervalSince1970
            var reserved: [String] = []
            for id in ids {
                let status = try String.fetchOne(db, sql: "SELECT status FROM runs WHERE id = ?", arguments: [id])
                guard let status, status != RunStatus.done.rawValue else { continue }
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM slurm_tasks WHERE run_id = ?", arguments: [id]) {
                    let current = try SlurmTaskRecord(row: row)
                    if current != seen[id] { continue }
                    if current.isLiveReservation(now: now, thisHost: worker.host) { continue }
                    if let task = current.taskID, liveTasks.contains(task) { continue }
                }
                try db.execute(sql: """
                    INSERT OR REPLACE INTO slurm_tasks (run_id, job_id, array_index, submission, host, pid, submitted_at)
                    VALUES (?, NULL, ?, ?, ?, ?, ?)
                    """, arguments: [id, reserved.count, submission, worker.host, worker.pid, now])
                reserved.append(id)
            }
            return reserved
        }
    }

    /// sbatch accepted the submission: its reservations become tasks of job `jobID`, and
    /// each run's attempts count the submission (`attempts[id]`, as its task list says), so
    /// a run submitted again after a task died without a result is attempt 2.
    public func confirmSlurmTasks(_ attempts: [String: Int], jobID: String, worker: WorkerIdentity) throws {
        try write { db in
            for (id, attempt) in attempts.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "UPDATE slurm_tasks SET job_id = ? WHERE run_id = ? AND job_id IS NULL AND host = ? AND pid = ?",
                               arguments: [jobID, id, worker.host, worker.pid])
                try db.execute(sql: "UPDATE runs SET attempts = max(attempts, ?) WHERE id = ? AND status != 'done'",
                               arguments: [attempt, id])
            }
        }
    }

    /// sbatch refused the submission: its reservations are dropped.
    public func dropSlurmReservations(_ ids: [String], worker: WorkerIdentity) throws {
        try write { db in
            for id in ids {
                try db.execute(sql: "DELETE FROM slurm_tasks WHERE run_id = ? AND job_id IS NULL AND host = ? AND pid = ?",
                               arguments: [id, worker.host, worker.pid])
            }
        }
    }
}
