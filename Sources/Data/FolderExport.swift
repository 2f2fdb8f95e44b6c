import Foundation
import Tensor

/// Writes a dataset as one split of an image folder, `DIR/<class name>/<index>.png|jpg`
/// (index zero-padded, so file order is dataset order within a class): to take synthetic
/// data to other tools, and to make folders for tests and decoding benchmarks.
public enum FolderExport {
    public enum Format: String, CaseIterable, Sendable { case png, jpeg }

    public static func write(_ ds: any Dataset, classNames: [String], to dir: String, format: Format,
                             quality: Int = 90) throws {
        precondition(classNames.count >= ds.numClasses && ds.channels == 3)
        for name in classNames.prefix(ds.numClasses) {
            let d = (dir as NSString).appendingPathComponent(name)
            do { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) } catch {
                throw DataError("\(d): cannot create directory: \(error.localizedDescription)")
            }
        }
        let S = ds.imageSize, plane = S * S
        let lock = NSLock()
        var failures: [(Int, Error)] = []
        Parallel.forEach(ds.count) { i in
            do {
                // CHW planes to the encoders' interleaved rows.
                var hwc = [UInt8](repeating: 0, count: 3 * plane)
                ds.withPixels(i) { p in for k in 0..<plane { for c in 0..<3 { hwc[3 * k + c] = p[c * plane + k] } } }
                let data = format == .png
                    ? try PNG.encode(.rgb(hwc), width: S, height: S)
                    : try JPEG.encode(.rgb(hwc), width: S, height: S, quality: quality)
                let path = "\(dir)/\(classNames[ds.label(at: i)])/\(String(format: "%06d", i)).\(format == .png ? "png" : "jpg")"
                do { try data.write(to: URL(fileURLWithPath: path)) } catch {
                    throw DataError("\(path): cannot write: \(error.localizedDescription)")
                }
            } catch {
                lock.withLock { failures.append((i, error)) }
            }
        }
        if let first = failures.min(by: { $0.0 < $1.0 }) { throw first.1 }
    }

    /// The synthetic classes' folder names, numbered so that sorted order is label order.
    public static func syntheticClassNames(_ k: Int) -> [String] {
        (0..<k).map { String(format: "%02d-", $0) + SyntheticShapes.names[$0] }
    }
}
