import Foundation
import XCTest

/// A real single-node Slurm cluster on loopback (scripts/slurm-local.sh), started once per
/// test class and torn down after it. Needs root, as slurmd does to start job steps.
final class LocalSlurm: @unchecked Sendable {
    let dir: URL
    let conf: String

    var env: [String: String] { ["SLURM_CONF": conf] }
    static var script: String { CLI.repoRoot.appendingPathComponent("scripts/slurm-local.sh").path }

    private init(dir: URL, conf: String) { self.dir = dir; self.conf = conf }

    static func up() throws -> LocalSlurm {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-slurm-\(UUID().uuidString.prefix(8))")
        let out = try shell([script, "up", dir.path])
        guard out.status == 0, let line = out.stdout.split(separator: "\n").first(where: { $0.hasPrefix("export SLURM_CONF=") }) else {
            throw TestError("scripts/slurm-local.sh up failed (status \(out.status)); the Slurm tests need root and Debian's Slurm packages:\n\(out.stderr)")
        }
        var conf = String(line.dropFirst("export SLURM_CONF=".count))
        if conf.hasPrefix("'") && conf.hasSuffix("'") { conf = String(conf.dropFirst().dropLast()) }
        return LocalSlurm(dir: dir, conf: conf)
    }

    func down() {
        _ = try? LocalSlurm.shell([LocalSlurm.script, "down", dir.path])
        try? FileManager.default.removeItem(at: dir)
    }

    /// A Slurm client command against this cluster; returns stdout.
    @discardableResult
    func run(_ tool: String, _ args: [String]) throws -> String {
        let out = try LocalSlurm.shell([tool] + args, env: env)
        guard out.status == 0 else { throw TestError("\(tool) \(args.joined(separator: " ")): \(out.stderr)") }
        return out.stdout
    }

    /// `<job>_<index>` -> state, for every task in the queue.
    func queue() throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try run("squeue", ["-h", "-r", "-o", "%i|%T"]).split(separator: "\n") {
            let p = line.split(separator: "|").map(String.init)
            if p.count == 2 { out[p[0]] = p[1] }
        }
        return out
    }

    /// The final state of a job (array task) the controller logged (jobcomp/filetxt).
    func finalState(job: String) -> String? {
        let log = (try? String(contentsOf: dir.appendingPathComponent("log/jobcomp.log"), encoding: .utf8)) ?? ""
        for line in log.split(separator: "\n").reversed() where line.contains("JobId=\(job) ") {
            if let r = line.range(of: "JobState=") {
                return String(line[r.upperBound...].prefix { !$0.isWhitespace })
            }
        }
        return nil
    }

    struct ShellOutput { var status: Int32; var stdout: String; var stderr: String }

    static func shell(_ argv: [String], env extra: [String: String] = [:]) throws -> ShellOutput {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        var env = ProcessInfo.processInfo.environment
        env.merge(extra) { _, new in new }
        p.environment = env
        let dir = FileManager.default.temporaryDirectory
        let tag = UUID().uuidString.prefix(8)
        let out = dir.appendingPathComponent("sh-\(tag).out"), err = dir.appendingPathComponent("sh-\(tag).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        p.waitUntilExit()
        return ShellOutput(status: p.terminationStatus,
                           stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                           stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Tests that need the cluster: one is brought up before the class's first test and torn
/// down after its last; each test gets a fresh temp directory.
class LocalSlurmTestCase: XCTestCase {
    nonisolated(unsafe) static var cluster: LocalSlurm?
    var dir: URL!

    var slurm: LocalSlurm { LocalSlurmTestCase.cluster! }

    override class func setUp() {
        super.setUp()
        do { cluster = try LocalSlurm.up() } catch { print("error: \(error)") }
    }

    override class func tearDown() {
        cluster?.down()
        cluster = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        guard LocalSlurmTestCase.cluster != nil else { throw TestError("no local Slurm cluster (see the error above)") }
        dir = try CLI.tempDir()
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }
}
