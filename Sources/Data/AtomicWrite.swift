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

extension AtomicWrite {
    /// A file too large to build in memory: `fill` writes into an open temp file (by
    /// descriptor, e.g. `pwrite` from several threads), which is renamed into place only if
    /// `fill` returns; if it throws, the temp file is removed.
    static func stream(to path: String, _ fill: (Int32) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DataError("\(dir.path): cannot create directory: \(error.localizedDescription)")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DataError("\(tmp): cannot create: \(String(cString: strerror(errno)))") }
        do {
            try fill(fd)
            guard close(fd) == 0 else { throw DataError("\(tmp): cannot write: \(String(cString: strerror(errno)))") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError("\(path): cannot rename temp file into place: \(reason)")
        }
    }
}
