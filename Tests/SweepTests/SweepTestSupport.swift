import Foundation
import XCTest
import Results

/// Runs the release `mimlab` binary next to the test bundle and builds throw-away sweeps on
/// the smoke config (about a second per run).
enum CLI {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var binary: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("mimlab")
        }
        return repoRoot.appendingPathComponent(".build/release/mimlab")
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// Starts `mimlab args` with stdout and stderr to files (a pipe could fill and block).
    static func start(_ args: [String], in dir: URL, name: String = "out", cwd: URL? = nil,
                      env extra: [String: String] = [:]) throws -> (Process, () -> Output) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = cwd ?? repoRoot
        var env = ProcessInfo.processInfo.environment
        env["MIMLAB_CACHE"] = dir.appendingPathComponent("cache").path
        env["MIMLAB_CODE_VERSION"] = "test"
        env.merge(extra) { _, new in new }
        p.environment = env
        let out = dir.appendingPathComponent("\(name).stdout"), err = dir.appendingPathComponent("\(name).stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return (p, {
            p.waitUntilExit()
            return Output(status: p.terminationStatus,
                          stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                          stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
        })
    }

    static func run(_ args: [String], in dir: URL, name: String = "out", cwd: URL? = nil,
                    env extra: [String: String] = [:]) throws -> Output {
        try start(args, in: dir, name: name, cwd: cwd, env: extra).1()
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// A spec over the smoke config; `body` is appended (grids, seeds, …).
    static func writeSpec(_ dir: URL, name: String = "spec", _ body: String) throws -> String {
        let path = dir.appendingPathComponent("\(name).yaml").path
        let text = "name: \(name)\nbase: \(repoRoot.path)/experiments/smoke.yaml\n" + body
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Polls until `condition` holds (or fails the test after `timeout` seconds).
    static func wait(_ what: String, timeout: Double = 120, _ condition: () throws -> Bool) rethrows {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTFail("timed out waiting for \(what)")
    }
}
