import CImageCodecs
import Foundation

/// JPEG through libjpeg-turbo's TurboJPEG API. Grey JPEGs come out as RGB; CMYK and YCCK
/// JPEGs are converted with the Adobe (Photoshop) convention, whose stored channels are
/// inverted: R = C·K/255. A warning (a truncated file, corrupt data) is an error, not a
/// grey-filled image.
public enum JPEG {
    public static func isJPEG(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF
    }

    static func error(_ h: tjhandle?) -> String {
        guard let c = tjGetErrorStr2(h) else { return "unknown error" }
        return String(cString: c).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The smallest DCT scaling (1/8 … 1) that keeps both sides ≥ `minSide`: decoding a
    /// 500-px photo for a 224-px protocol at 1/2 is about 3× faster and, as the result is
    /// resampled anyway, loses nothing that survives the resize.
    static func scaled(width w: Int, height h: Int, minSide: Int) -> (Int, Int) {
        var n: Int32 = 0
        guard minSide > 0, let f = tjGetScalingFactors(&n) else { return (w, h) }
        var best = (w, h)
        for i in 0..<Int(n) {
            let num = Int(f[i].num), den = Int(f[i].denom)
            guard num <= den else { continue }
            let sw = (w * num + den - 1) / den, sh = (h * num + den - 1) / den
            if min(sw, sh) >= minSide && sw * sh < best.0 * best.1 { best = (sw, sh) }
        }
        return best
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, minSide: Int = 0, name: String) throws -> RGBImage {
        guard let h = tjInitDecompress() else { throw DataError("\(name): cannot start the JPEG decoder") }
        defer { tjDestroy(h) }
        let src = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var w: Int32 = 0, ht: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
        guard tjDecompressHeader3(h, src, UInt(bytes.count), &w, &ht, &sub, &cs) == 0 else {
            throw DataError("\(name): unreadable JPEG (\(error(h)); truncated or corrupt)")
        }
        guard w > 0, ht > 0, Int(w) * Int(ht) <= RGBImage.maxPixels else {
            throw DataError("\(name): JPEG of \(w)×\(ht) pixels is empty or too large (at most \(RGBImage.maxPixels) pixels)")
        }
        let (sw, sh) = scaled(width: Int(w), height: Int(ht), minSide: minSide)
        let cmyk = cs == Int32(TJCS_CMYK.rawValue) || cs == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        var out = [UInt8](repeating: 0, count: sw * sh * channels)
        let format = cmyk ? TJPF_CMYK : TJPF_RGB
        let rc = out.withUnsafeMutableBufferPointer {
            tjDecompress2(h, src, UInt(bytes.count), $0.baseAddress, Int32(sw), 0, Int32(sh), Int32(format.rawValue),
                          TJFLAG_STOPONWARNING)
        }
        guard rc == 0 else { throw DataError("\(name): unreadable JPEG (\(error(h)); truncated or corrupt)") }
        guard cmyk else { return RGBImage(width: sw, height: sh, pixels: out) }
        var rgb = [UInt8](repeating: 0, count: sw * sh * 3)
        for p in 0..<(sw * sh) {
            let k = UInt32(out[4 * p + 3])
            for c in 0..<3 { rgb[3 * p + c] = UInt8((UInt32(out[4 * p + c]) * k + 127) / 255) }
        }
        return RGBImage(width: sw, height: sh, pixels: rgb)
    }

    /// What `encode` writes: interleaved RGB, grey, or CMYK as stored (Adobe-inverted).
    public enum Pixels {
        case rgb([UInt8]), grey([UInt8]), cmyk([UInt8])
    }

    public static func encode(_ pixels: Pixels, width: Int, height: Int, quality: Int = 90) throws -> Data {
        guard let h = tjInitCompress() else { throw DataError("JPEG encode: cannot start the encoder") }
        defer { tjDestroy(h) }
        let (buf, format, sub): ([UInt8], TJPF, TJSAMP)
        switch pixels {
        case .rgb(let p): (buf, format, sub) = (p, TJPF_RGB, TJSAMP_420)
        case .grey(let p): (buf, format, sub) = (p, TJPF_GRAY, TJSAMP_GRAY)
        case .cmyk(let p): (buf, format, sub) = (p, TJPF_CMYK, TJSAMP_444)
        }
        var jpeg: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = buf.withUnsafeBufferPointer {
            tjCompress2(h, $0.baseAddress, Int32(width), 0, Int32(height), Int32(format.rawValue), &jpeg, &size,
                        Int32(sub.rawValue), Int32(quality), 0)
        }
        defer { if let jpeg { tjFree(jpeg) } }
        guard rc == 0, let jpeg else { throw DataError("JPEG encode: \(error(h))") }
        return Data(bytes: jpeg, count: Int(size))
    }
}
