import Foundation

/// The code a run was made with, recorded beside it: `$MIMLAB_CODE_VERSION` when set (a
/// cluster job that runs a copied binary), else the git commit of the working directory,
/// with "+dirty" when tracked files differ from it; "unknown" outside a git checkout.
public enum CodeVersion {
    public static let current: String = {
        if let v = ProcessInfo.processInfo.environment["MIMLAB_CODE_VERSION"], !v.isEmpty { return v }
        guard let commit = git(["rev-parse", "--short=12", "HEAD"]), !commit.isEmpty else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return dirty ? commit + "+dirty" : commit
    }()

    static func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
