import Foundation
import GRDB

public enum RunStatus: String, CaseIterable, Codable, Sendable {
    case pending, running, done, failed
}

/// One row of `runs`.
public struct RunRecord: Sendable {
    /// A running run whose heartbeat is older than this is taken for dead (another host's
    /// worker, or a pid that was reused). Workers beat every `heartbeatInterval`.
    public static let defaultStaleAfter: TimeInterval = 300
    public static let heartbeatInterval: TimeInterval = 15

    public var id: String
    public var config: String
    public var status: RunStatus
    public var attempts: Int
    public var host: String?
    public var pid: Int?
    public var createdAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var heartbeatAt: Double?
    public var error: String?
    public var codeVersion: String?
    /// The OpenBLAS kernel and who chose it; nil for runs from before it was recorded.
    public var blasKernel: String?
    /// Compute threads of the process that ran it; nil for runs from before it was recorded.
    public var threads: Int?
    /// Where a running run is ("pretrain 312/625"), as of its last heartbeat; nil otherwise.
    public var progress: String?

    /// Every column checked: a malformed row is an error naming the run and the column.
    init(row: Row) throws {
        let id = try row.checkedRunID("id", table: "runs")
        self.id = id
        func v<T: DatabaseValueConvertible>(_ c: String) throws -> T { try row.checked(c, table: "runs", run: id) }
        func o<T: DatabaseValueConvertible>(_ c: String) throws -> T? { try row.checkedOptional(c, table: "runs", run: id) }
        config = try v("config")
        let statusText: String = try v("status")
        guard let s = RunStatus(rawValue: statusText) else {
            throw ResultsError("table runs, run \(id), column status = '\(statusText.prefix(40))': not a run status "
                               + "(valid: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        status = s
        attempts = try v("attempts"); host = try o("host"); pid = try o("pid")
        createdAt = try v("created_at"); startedAt = try o("started_at"); finishedAt = try o("finished_at")
        heartbeatAt = try o("heartbeat_at"); error = try o("error"); codeVersion = try o("code_version")
        blasKernel = try o("blas_kernel")
        threads = try o("threads")
        progress = try o("progress")
    }

    /// A running run nobody is running any more: its worker on this host is gone (pid not
    /// alive: Ctrl-C, kill -9, a crash), or its heartbeat stopped (any host).
    public func isStale(now: Double, thisHost: String, staleAfter: TimeInterval = RunRecord.defaultStaleAfter) -> Bool {
        guard status == .running else { return false }
        if host == thisHost, let pid, !WorkerIdentity.processAlive(Int32(pid)) { return true }
        return now - (heartbeatAt ?? startedAt ?? 0) > staleAfter
    }
}

/// Who runs a run: recorded with it, so a stale claim can be recognised.
public struct WorkerIdentity: Sendable {
    public var host: String
    public var pid: Int32
    public var codeVersion: String?
    /// `BLASKernel.status.record` of the process that runs the run.
    public var blasKernel: String?
    /// Its compute threads (`--threads`).
    public var threads: Int?

    public init(host: String = WorkerIdentity.hostName, pid: Int32 = getpid(), codeVersion: String? = nil,
                blasKernel: String? = nil, threads: Int? = nil) {
        self.host = host; self.pid = pid; self.codeVersion = codeVersion; self.blasKernel = blasKernel
        self.threads = threads
    }

    public static var hostName: String { ProcessInfo.processInfo.hostName }

    /// kill(pid, 0): the process exists (EPERM also means it exists, owned by someone else).
    /// A zombie counts as gone: it runs nothing.
    public static func processAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            if state == "Z" || state == "X" { return false }
        }
        return true
    }
}

public struct ClaimedRun: Sendable {
    public var id: String
    public var config: String
    public var attempt: Int
    /// What the run was before this claim (`running` = a stale run taken over).
    public var previousStatus: RunStatus
}

/// One point of a run's metric history.
public struct MetricPoint: Codable, Equatable, Sendable {
    public var phase: String
    public var step: Int
    public var name: String
    public var value: Double
    public init(phase: String, step: Int, name: String, value: Double) {
        self.phase = phase; self.step = step; self.name = name; self.value = value
    }

    /// A row of `metrics` (NULL value = a non-finite one).
    init(row: Row, run: String) throws {
        phase = try row.checked("phase", table: "metrics", run: run)
        step = try row.checked("step", table: "metrics", run: run)
        name = try row.checked("name", table: "metrics", run: run)
        value = try row.checkedOptional("value", Double.self, table: "metrics", run: run) ?? .nan
    }
}
