import Foundation
import Tensor

/// An image folder decoded once at the working size: one file of a 32-byte header
/// (`MIMLABF1`, image count, side, channels) and every image's CHW bytes, in the folder's
/// order (train, then val). Its name carries the folder's cache key (paths, sizes,
/// modification times), the side and the resize policy, so a changed folder is decoded
/// again and an unchanged one never is. Written under a temp name and renamed when whole;
/// read back memory-mapped.
public enum FolderCache {
    public static let headerSize = 32
    static let magic = Array("MIMLABF1".utf8)

    /// What decoding reports, always from the calling thread.
    public enum Event: Sendable {
        /// About to decode `images` into `bytes` bytes at `path`.
        case decoding(images: Int, bytes: Int, path: String)
        case progress(done: Int, total: Int)
        case written(path: String, seconds: Double)
    }

    public static func fileName(_ folder: ImageFolder, size: Int, policy: ResizePolicy) -> String {
        "folder-\(folder.cacheKey)-\(size)px-\(policy.rawValue).bin"
    }

    /// The decoded images of `folder` at `size`×`size`: the cache file's bytes (mapped),
    /// decoded first (on every core) when there is no complete cache file.
    public static func load(_ folder: ImageFolder, size: Int, policy: ResizePolicy, cacheDir: String,
                            report: ((Event) -> Void)? = nil) throws -> Data {
        let path = (cacheDir as NSString).appendingPathComponent(fileName(folder, size: size, policy: policy))
        let n = folder.files.count, record = 3 * size * size
        let expected = headerSize + n * record
        if let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
           d.count == expected, Array(d.prefix(8)) == magic, header(d) == [n, size, 3] {
            return d
        }
        report?(.decoding(images: n, bytes: expected, path: path))
        let start = Date()
        try AtomicWrite.stream(to: path) { fd in
            var head = [UInt8](repeating: 0, count: headerSize)
            head.replaceSubrange(0..<8, with: magic)
            for (i, v) in [n, size, 3].enumerated() {
                for b in 0..<4 { head[8 + 4 * i + b] = UInt8(truncatingIfNeeded: v >> (8 * b)) }
            }
            try write(fd, head, at: 0, path: path)
            try decodeAll(folder, size: size, policy: policy, fd: fd, path: path, report: report)
        }
        report?(.written(path: path, seconds: Date().timeIntervalSince(start)))
        return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    }

    static func header(_ d: Data) -> [Int] {
        (0..<3).map { i in (0..<4).reduce(0) { $0 | Int(d[d.startIndex + 8 + 4 * i + $1]) << (8 * $1) } }
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count else {
            throw DataError("\(path): cannot write the decoded images: \(written < 0 ? String(cString: strerror(errno)) : "short write (disk full?)")")
        }
    }

    /// Decodes in chunks of a few images per thread; each image goes to its own offset, so
    /// the file is the same whatever the thread count. The first failing file (in folder
    /// order) is the error.
    static func decodeAll(_ folder: ImageFolder, size S: Int, policy: ResizePolicy, fd: Int32, path: String,
                          report: ((Event) -> Void)?) throws {
        let files = folder.files, n = files.count, record = 3 * S * S
        let chunk = max(64, 16 * Parallel.threads)
        let lock = NSLock()
        var lo = 0
        report?(.progress(done: 0, total: n))
        while lo < n {
            let hi = min(n, lo + chunk)
            var failures: [(Int, Error)] = []
            Parallel.forEach(hi - lo) { j in
                let i = lo + j
                do {
                    let file = (folder.root as NSString).appendingPathComponent(files[i].path)
                    let img = try RGBImage.read(path: file, minSide: S)
                    var out = [UInt8](repeating: 0, count: record)
                    out.withUnsafeMutableBufferPointer { policy.apply(img, size: S, into: $0.baseAddress!) }
                    try write(fd, out, at: headerSize + i * record, path: path)
                } catch {
                    lock.withLock { failures.append((i, error)) }
                }
            }
            if let first = failures.min(by: { $0.0 < $1.0 }) { throw first.1 }
            lo = hi
            report?(.progress(done: lo, total: n))
        }
    }
}
