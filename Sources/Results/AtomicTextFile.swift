import Foundation

/// Writes a generated file (a table, a figure) so that no reader ever sees half of it, and a
/// writer killed half-way leaves nothing that looks like one: the temp file is hidden
/// (`.<name>.tmp-<pid>-…`, no `.md`/`.svg` suffix) and renamed into place only when whole.
public enum AtomicTextFile {
    static let marker = ".tmp-"

    public static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw ResultsError("\(dir): cannot create directory: \(error.localizedDescription)")
        }
        let tmp = "\(dir)/.\(url.lastPathComponent)\(marker)\(getpid())-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
            throw ResultsError("\(path): cannot write (\(String(cString: strerror(errno))))")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw ResultsError("\(path): cannot write (\(reason))")
        }
    }

    /// Removes temp files that writers killed in `dir` left behind (their pid is gone).
    public static func removeStaleTemps(in dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") {
            guard let r = name.range(of: marker) else { continue }
            let pid = Int32(name[r.upperBound...].prefix(while: \.isNumber)) ?? 0
            if pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) { continue }
            try? FileManager.default.removeItem(atPath: "\(dir)/\(name)")
        }
    }
}
