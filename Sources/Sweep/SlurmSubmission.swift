import Foundation
import Train

/// One submission of a sweep to Slurm, as files a person can read and submit again: a
/// directory with `tasks.json` (array index -> run: id, canonical config, attempt) and
/// `job.sbatch` (the job array script), plus `logs/` for the tasks' output.
public struct SlurmSubmission: Sendable {
    /// Bumped when a task list changes meaning; `sweep task` refuses other versions.
    public static let formatVersion = 1

    public struct Task: Codable, Sendable, Equatable {
        public var id: String
        /// Canonical config JSON, as the database has it (the shard records it as is).
        public var config: String
        /// The same config as the task decodes it; it checks that it hashes to `id`.
        public var runConfig: RunConfig
        public var sweeps: [String]
        /// The attempt this task is (the database's attempts + 1 at submission); a requeued
        /// task adds SLURM_RESTART_COUNT.
        public var attempt: Int

        public init(run: PlannedRun, sweeps: [String], attempt: Int) {
            id = run.id; config = run.canonicalJSON; runConfig = run.config; self.sweeps = sweeps; self.attempt = attempt
        }
    }

    /// What `tasks.json` holds: everything a task needs besides its index.
    public struct TaskList: Codable, Sendable, Equatable {
        public var format: Int
        public var sweep: String
        /// Where each task writes `<run id>.shard.sqlite`.
        public var shards: String
        /// Where each task keeps its resumable pre-training state (`<run id>/`).
        public var checkpoints: String
        /// Dataset cache (absolute), shared by the tasks.
        public var cache: String
        /// Seconds between a task's pre-training checkpoints (and one when it is stopped).
        public var checkpointSeconds: Double
        public var tasks: [Task]

        public init(sweep: String, shards: String, checkpoints: String, cache: String, checkpointSeconds: Double, tasks: [Task]) {
            format = SlurmSubmission.formatVersion
            self.sweep = sweep; self.shards = shards; self.checkpoints = checkpoints; self.cache = cache
            self.checkpointSeconds = checkpointSeconds; self.tasks = tasks
        }

        public static func load(path: String) throws -> TaskList {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SweepError("\(path): cannot read the task list")
            }
            let list: TaskList
            do { list = try JSONDecoder().decode(TaskList.self, from: data) } catch {
                throw SweepError("\(path): not a mimlab task list: \(SlurmSubmission.describe(decoding: error))")
            }
            guard list.format == SlurmSubmission.formatVersion else {
                throw SweepError("\(path): task list format \(list.format); this mimlab reads format \(SlurmSubmission.formatVersion)")
            }
            return list
        }
    }

    /// A JSON decoding error in one line: the field's path and what was wrong with it.
    static func describe(decoding error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the top level" : String(p.drop(while: { $0 == "." }))
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?: return "\(path(c.codingPath + [key])) is missing"
        case .typeMismatch(let type, let c)?: return "\(path(c.codingPath)): expected \(type)"
        case .valueNotFound(let type, let c)?: return "\(path(c.codingPath)): expected \(type), found null"
        case .dataCorrupted(let c)?:
            return "\(path(c.codingPath)): " + (c.underlyingError.map { _ in "not valid JSON" } ?? c.debugDescription)
        default: return "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
    }

    /// How the job array asks for resources: sbatch options.
    public struct Resources: Sendable {
        public var partition: String?
        /// Slurm time limit per task (`--time`): minutes, MM:SS, HH:MM:SS or D-HH:MM:SS.
        public var time: String?
        /// At most this many tasks at once (`--array=0-N%K`).
        public var arrayParallelism: Int?
        public var cpusPerTask: Int
        /// More `#SBATCH` lines, verbatim (`--mem=4G`, `--account=lab`).
        public var extraArgs: [String]

        public init(partition: String? = nil, time: String? = nil, arrayParallelism: Int? = nil, cpusPerTask: Int = 1,
                    extraArgs: [String] = []) {
            self.partition = partition; self.time = time; self.arrayParallelism = arrayParallelism
            self.cpusPerTask = cpusPerTask; self.extraArgs = extraArgs
        }

        /// Checks what sbatch would otherwise reject only once the job is queued, or
        /// what would break the script.
        public func validate() throws {
            if let partition, partition.isEmpty || partition.contains(where: { $0.isWhitespace }) {
                throw SweepError("--partition '\(partition)': must be one partition name, no spaces")
            }
            if let time {
                let pattern = #"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$"#
                guard time.range(of: pattern, options: .regularExpression) != nil else {
                    throw SweepError("--time '\(time)': valid forms are MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED")
                }
            }
            if let k = arrayParallelism, k < 1 { throw SweepError("--array-parallelism \(k): must be at least 1") }
            guard cpusPerTask >= 1 else { throw SweepError("--cpus-per-task \(cpusPerTask): must be at least 1") }
            for a in extraArgs {
                guard a.hasPrefix("-"), !a.contains("\n"), !a.contains("\r") else {
                    throw SweepError("--sbatch-arg '\(a)': must be one sbatch option on one line, starting with '-' (e.g. --mem=4G)")
                }
                for owned in ["--array", "-a", "--output", "-o", "--error", "-e", "--open-mode", "--cpus-per-task", "-c", "--job-name", "-J"]
                where a == owned || a.hasPrefix(owned + "=") || (owned.count == 2 && a.hasPrefix(owned) && a.count > 2 && !a.hasPrefix("--")) {
                    throw SweepError("--sbatch-arg '\(a)': mimlab sets \(owned) itself (use --array-parallelism, --threads)")
                }
            }
        }
    }

    public let directory: String
    public var scriptPath: String { "\(directory)/job.sbatch" }
    public var taskListPath: String { "\(directory)/tasks.json" }
    public var logDirectory: String { "\(directory)/logs" }

    /// Log of array task `index` of job `jobID`: where its output and Slurm's own messages go.
    public func logPath(jobID: String, index: Int) -> String { "\(logDirectory)/\(jobID)_\(index).out" }

    public init(directory: String) { self.directory = directory }

    /// A new submission directory under `root/<sweep>/`, named by the time and pid.
    public static func create(root: String, sweep: String) throws -> SlurmSubmission {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let dir = "\(root)/\(sweep)/\(f.string(from: Date()))-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: "\(dir)/logs", withIntermediateDirectories: true)
        } catch {
            throw SweepError("\(dir): cannot create the submission directory: \(error.localizedDescription)")
        }
        return SlurmSubmission(directory: dir)
    }

    /// Writes `tasks.json` and `job.sbatch`; returns the script's text.
    @discardableResult
    public func write(tasks: TaskList, resources: Resources, executable: String, codeVersion: String, command: String) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let script = renderScript(tasks: tasks, resources: resources, executable: executable, codeVersion: codeVersion, command: command)
        do {
            try writeAtomically(try enc.encode(tasks), to: taskListPath)
            try writeAtomically(Data(script.utf8), to: scriptPath)
        } catch let e as SweepError { throw e } catch {
            throw SweepError("\(directory): cannot write the submission: \(error)")
        }
        return script
    }

    public func renderScript(tasks: TaskList, resources r: Resources, executable: String, codeVersion: String, command: String) -> String {
        let n = tasks.tasks.count
        var array = "0-\(max(0, n - 1))"
        if let k = r.arrayParallelism { array += "%\(k)" }
        var lines = [
            "#!/bin/bash",
            "# mimlab sweep \(tasks.sweep): one Slurm array task per run. Task i runs entry i of",
            "# tasks.json beside this script and writes its result to",
            "#   \(tasks.shards)/<run id>.shard.sqlite",
            "# keeping resumable pre-training state in \(tasks.checkpoints)/<run id>/ until then.",
            "# `mimlab sweep run` (which wrote this) merges the shards into the results database;",
            "# by hand: mimlab results merge \(tasks.shards)",
            "#",
            "# Written by: \(command)",
            "# Submit again as it is: sbatch \(scriptPath)",
            "#SBATCH --job-name=\(SlurmSubmission.jobName(sweep: tasks.sweep))",
            "#SBATCH --array=\(array)",
            "#SBATCH --cpus-per-task=\(r.cpusPerTask)",
            "#SBATCH --output=\(logDirectory)/%A_%a.out",
            // A requeued task appends to its log instead of wiping the first attempt's.
            "#SBATCH --open-mode=append",
            // Pre-emption may requeue the task; it then resumes from its checkpoint.
            "#SBATCH --requeue",
        ]
        if let p = r.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = r.time { lines.append("#SBATCH --time=\(t)") }
        for a in r.extraArgs { lines.append("#SBATCH \(a)") }
        lines += [
            "",
            "export MIMLAB_CODE_VERSION=\(shellQuote(codeVersion))",
            "exec \(shellQuote(executable)) sweep task \(shellQuote(taskListPath)) --index \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    public static func jobName(sweep: String) -> String { "mimlab-\(sweep)" }

    func writeAtomically(_ data: Data, to path: String) throws {
        let tmp = "\(path).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw SweepError("\(tmp): cannot write (\(String(cString: strerror(errno))))")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw SweepError("\(path): cannot rename into place: \(reason)")
        }
    }
}

/// A word for a POSIX shell, in single quotes.
func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
