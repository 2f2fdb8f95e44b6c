import ArgumentParser
import Foundation
import Tensor

/// Bad input found by the command line itself (an option's value, a missing file): thrown
/// like every other error and reported by `MimLab.main`.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension MimLab {
    /// The one place errors are reported. Parsing problems, --help and `ExitCode` go through
    /// ArgumentParser as usual; every other error is bad input or a refused operation and
    /// becomes one line on stderr (the message names the file, line, field or option) and
    /// exit status 2, never a stack trace.
    static func main() {
        // The OpenBLAS kernel is settled before anything else runs (see `BLASKernel`): this
        // may re-execute the process once under a better kernel.
        BLASKernel.launch()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // --help, --version and a deliberate exit status keep ArgumentParser's handling.
            if error is ExitCode || MimLab.exitCode(for: error).isSuccess { exit(withError: error) }
            if isArgumentParserError(error) {
                // A usage error is one line too: the usage text is one `--help` away.
                let message = MimLab.message(for: error)
                if message.isEmpty { exit(withError: error) }
                FileHandle.standardError.write(Data("mimlab: error: \(oneLine(message)) (see --help)\n".utf8))
            } else {
                report(error)
            }
            Foundation.exit(2)
        }
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func isArgumentParserError(_ error: Error) -> Bool {
        error is ExitCode || error is CleanExit || error is ValidationError
            || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    static func report(_ error: Error) {
        var text: String
        if error is CocoaError || type(of: error) == NSError.self || String(reflecting: type(of: error)).hasPrefix("Foundation.") {
            // Foundation's own errors print as "Error Domain=… Code=512 "(null)"": say what and where.
            let ns = error as NSError
            text = ns.localizedDescription
            if let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path {
                text = "\(path): \(text)"
            }
        } else {
            text = "\(error)"
        }
        FileHandle.standardError.write(Data("mimlab: error: \(oneLine(text))\n".utf8))
    }
}

/// Why a directory cannot be made, in words (Foundation's error says "(null)").
func pathProblem(_ dir: String) -> String {
    var p = ""
    for comp in (dir as NSString).pathComponents {
        p = p.isEmpty ? comp : (p as NSString).appendingPathComponent(comp)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: p, isDirectory: &isDir) {
            if !isDir.boolValue { return "\(p) is a file, not a directory" }
            continue
        }
        let parent = (p as NSString).deletingLastPathComponent
        let where_ = parent.isEmpty ? "." : parent
        if access(where_, W_OK) != 0 { return "\(where_) is not writable: \(String(cString: strerror(errno)))" }
        return "cannot create \(p)"
    }
    return "it exists but cannot be used"
}
