import Foundation
import Tensor

/// The safetensors format (what PyTorch users load with `safetensors.torch.load_file`):
/// an 8-byte little-endian header length, a JSON header mapping each name to its dtype,
/// shape and byte range, an optional `__metadata__` string map, then the raw data.
///
/// Reading accepts F32, F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL and converts to
/// Float; integer tensors also keep their exact values in `integers`. Writing emits F32
/// (and I32 for `integers`), names sorted, atomically (temp file + rename).
public struct SafetensorsFile {
    public var tensors: [String: Tensor] = [:]
    public var integers: [String: (shape: [Int], values: [Int32])] = [:]
    public var metadata: [String: String] = [:]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public enum Failure: Error, CustomStringConvertible {
        case io(String, String)
        case malformed(String, String)

        public var description: String {
            switch self {
            case .io(let path, let why): return "\(path): \(why)"
            case .malformed(let path, let why): return "\(path): not a valid safetensors file: \(why)"
            }
        }
    }

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure.io(path, "cannot read file (missing or unreadable)")
        }
        guard data.count >= 8 else { throw Failure.malformed(path, "shorter than the 8-byte header length") }
        let raw = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        // Compared as UInt64 before any arithmetic: a length near 2^64 must not overflow.
        guard raw > 0, raw <= UInt64(data.count - 8) else {
            throw Failure.malformed(path, "header length \(raw) exceeds file size \(data.count)")
        }
        let n = Int(raw)
        let header: [String: Any]
        do {
            guard let h = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any] else {
                throw Failure.malformed(path, "header is not a JSON object")
            }
            header = h
        } catch let e as Failure { throw e } catch {
            throw Failure.malformed(path, "header is not valid JSON")
        }
        let base = 8 + n
        for (name, entry) in header {
            if name == "__metadata__" {
                if let m = entry as? [String: Any] {
                    for (k, v) in m { metadata[k] = (v as? String) ?? "\(v)" }
                }
                continue
            }
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = (e["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offs = (e["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offs.count == 2 else {
                throw Failure.malformed(path, "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            // Checked without overflow: the data must be in the file, so no shape may ask for more.
            var count = 1
            for d in shape {
                let (c, over) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !over, c <= data.count else {
                    throw Failure.malformed(path, "tensor '\(name)' shape \(shape) is larger than the file (\(data.count) bytes)")
                }
                count = c
            }
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] <= data.count - base else {
                throw Failure.malformed(path, "tensor '\(name)' byte range \(offs) is outside the file's data (\(data.count - base) bytes)")
            }
            guard let width = SafetensorsFile.width[dtype] else {
                throw Failure.malformed(path, "tensor '\(name)' has unsupported dtype \(dtype); supported: \(SafetensorsFile.width.keys.sorted().joined(separator: ", "))")
            }
            guard offs[1] - offs[0] == count * width, base + offs[1] <= data.count, offs[0] >= 0 else {
                throw Failure.malformed(path, "tensor '\(name)' byte range \(offs) does not fit shape \(shape) of \(dtype)")
            }
            let t = Tensor(shape: shape, zeroed: false)
            var ints: [Int32]? = nil
            data.withUnsafeBytes { raw in
                let p = raw.baseAddress! + base + offs[0]
                for i in 0..<count {
                    let q = p + i * width
                    let v: Double
                    switch dtype {
                    case "F32": v = Double(Float(bitPattern: UInt32(littleEndian: q.loadUnaligned(as: UInt32.self))))
                    case "F64": v = Double(bitPattern: UInt64(littleEndian: q.loadUnaligned(as: UInt64.self)))
                    case "F16": v = Double(SafetensorsFile.half(UInt16(littleEndian: q.loadUnaligned(as: UInt16.self))))
                    case "BF16": v = Double(Float(bitPattern: UInt32(UInt16(littleEndian: q.loadUnaligned(as: UInt16.self))) << 16))
                    case "I64": v = Double(Int64(littleEndian: q.loadUnaligned(as: Int64.self)))
                    case "I32": v = Double(Int32(littleEndian: q.loadUnaligned(as: Int32.self)))
                    case "I16": v = Double(Int16(littleEndian: q.loadUnaligned(as: Int16.self)))
                    case "I8": v = Double(q.load(as: Int8.self))
                    default: v = Double(q.load(as: UInt8.self))   // U8, BOOL
                    }
                    t.data[i] = Float(v)
                }
                if dtype.hasPrefix("I") || dtype == "U8" || dtype == "BOOL" {
                    ints = (0..<count).map { Int32(t.data[$0]) }
                }
            }
            tensors[name] = t
            if let ints { integers[name] = (shape, ints) }
        }
    }

    static let width: [String: Int] = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
                                       "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]

    static func half(_ h: UInt16) -> Float {
        let sign: Float = (h & 0x8000) != 0 ? -1 : 1
        let exp = Int((h >> 10) & 0x1F), frac = Float(h & 0x3FF)
        if exp == 0 { return sign * frac * 0x1p-24 }
        if exp == 31 { return frac == 0 ? sign * .infinity : .nan }
        return sign * (1 + frac / 1024) * Float(sign: .plus, exponent: exp - 15, significand: 1)
    }

    /// Writes the file atomically: readers see the old file or the complete new one.
    public func write(to path: String) throws {
        var names = tensors.keys.sorted()
        names += integers.keys.sorted().filter { tensors[$0] == nil }
        var header = "{"
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(SafetensorsFile.quote($0)):\(SafetensorsFile.quote(metadata[$0]!))" }
            header += "\"__metadata__\":{\(meta.joined(separator: ","))},"
        }
        var offset = 0
        var entries: [String] = []
        for name in names {
            let (dtype, shape, bytes): (String, [Int], Int)
            if let t = tensors[name] { (dtype, shape, bytes) = ("F32", t.shape, t.count * 4) }
            else { let i = integers[name]!; (dtype, shape, bytes) = ("I32", i.shape, i.values.count * 4) }
            entries.append("\(SafetensorsFile.quote(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += entries.joined(separator: ",") + "}"
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var out = Data(capacity: 8 + header.utf8.count + offset)
        var len = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for name in names {
            if let t = tensors[name] {
                var le = (0..<t.count).map { t.data[$0].bitPattern.littleEndian }
                le.withUnsafeMutableBytes { out.append(contentsOf: $0) }
            } else {
                var le = integers[name]!.values.map { $0.littleEndian }
                le.withUnsafeMutableBytes { out.append(contentsOf: $0) }
            }
        }
        try AtomicFile.write(out, to: path)
    }

    static func quote(_ s: String) -> String {
        let d = try! JSONSerialization.data(withJSONObject: [s], options: [])
        let arr = String(decoding: d, as: UTF8.self)
        return String(arr.dropFirst().dropLast())
    }
}

/// Write-to-temp-then-rename, so a crash never leaves a half-written file under the name.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try data.write(to: tmp)
            let fd = open(tmp.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            if rename(tmp.path, url.path) != 0 {
                throw SafetensorsFile.Failure.io(path, "cannot rename \(tmp.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            if let e = error as? SafetensorsFile.Failure { throw e }
            throw SafetensorsFile.Failure.io(path, "cannot write: \(error.localizedDescription)")
        }
    }
}
