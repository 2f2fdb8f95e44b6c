import Foundation

/// Temp file + rename, so a reader (another process, a concurrent run) never sees half a
/// file under the final name. The temp name is unique per writer, so two writers of the
/// same cache file both succeed and the last rename wins with identical contents.
enum AtomicWrite {
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DataError("\(dir.path): cannot create directory: \(error.localizedDescription)")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        do { try data.write(to: tmp) } catch {
            throw DataError("\(tmp.path): cannot write: \(error.localizedDescription)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw DataError("\(path): cannot rename temp file into place: \(reason)")
        }
    }
}
