import Foundation

/// The few Slurm commands a sweep needs (sbatch, squeue, scancel), run as processes with
/// the caller's environment (`SLURM_CONF` and `PATH` say which cluster).
public struct SlurmClient: Sendable {
    public init() {}

    /// State of one array task in the queue, as squeue prints it (`PENDING`, `RUNNING`,
    /// `COMPLETING`, `REQUEUED`, `SUSPENDED`, ...), and why it waits (`%R`).
    public struct QueuedTask: Sendable, Equatable {
        public var taskID: String
        public var state: String
        public var reason: String
    }

    /// Submits a batch script; returns the job id.
    public func submit(script: String) throws -> String {
        let out = try run("sbatch", ["--parsable", script])
        // --parsable prints "<job id>" or "<job id>;<cluster>".
        guard let id = out.split(separator: "\n").last?.split(separator: ";").first.map(String.init),
              !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw SweepError("sbatch \(script): unexpected reply '\(out.trimmingCharacters(in: .whitespacesAndNewlines))'")
        }
        return id
    }

    /// The tasks of these jobs still in the queue, by `<job id>_<index>`. A job the
    /// controller has forgotten (finished more than MinJobAge ago) simply has no tasks.
    public func queue(jobs: [String]) throws -> [String: QueuedTask] {
        guard !jobs.isEmpty else { return [:] }
        var out: [String: QueuedTask] = [:]
        let text: String
        do {
            text = try run("squeue", ["-h", "-r", "-j", Array(Set(jobs)).sorted().joined(separator: ","), "-o", "%i|%T|%R"])
        } catch let f as SweepError where f.description.contains("Invalid job id") {
            return [:]  // every one of them is gone
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2 else { continue }
            out[parts[0]] = QueuedTask(taskID: parts[0], state: parts[1], reason: parts.count > 2 ? parts[2] : "")
        }
        return out
    }

    public func cancel(_ ids: [String]) throws {
        guard !ids.isEmpty else { return }
        _ = try run("scancel", ids)
    }

    /// Whether the Slurm client commands are on PATH.
    public static var available: Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/sbatch") }
    }

    func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        // stderr goes to a file, so that reading stdout to its end can never block on it.
        let errPath = NSTemporaryDirectory() + "mimlab-\(tool)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).err"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { unlink(errPath) }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: errPath)
        do { try p.run() } catch {
            throw SweepError("cannot run \(tool): \(error.localizedDescription)")
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        let stdout = String(decoding: outData, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: errData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if p.terminationStatus == 127 && msg.contains("No such file") {
                throw SweepError("\(tool) not found on PATH: run this on a Slurm login node (scripts/setup.sh installs the client here)")
            }
            throw SweepError("\(tool) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(msg)")
        }
        return stdout
    }
}
