import CImageCodecs
import Foundation

/// PNG through libpng's simplified API, which converts every colour type (grey, palette,
/// with or without transparency, 1 to 16 bits) to 8-bit RGB; an alpha channel is
/// composited onto black. 16-bit files without gamma information are taken as sRGB (as
/// image viewers and PIL do), not as linear light.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func isPNG(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 8 && zip(b.prefix(8), signature).allSatisfy { $0 == $1 }
    }

    static func message(_ img: png_image) -> String {
        withUnsafeBytes(of: img.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&img, bytes.baseAddress, bytes.count) != 0 else {
            throw DataError("\(name): unreadable PNG (\(message(img)); truncated or corrupt)")
        }
        let w = Int(img.width), h = Int(img.height)
        guard w > 0, h > 0, w * h <= RGBImage.maxPixels else {
            png_image_free(&img)
            throw DataError("\(name): PNG of \(w)×\(h) pixels is empty or too large (at most \(RGBImage.maxPixels) pixels)")
        }
        img.format = UInt32(PNG_FORMAT_RGB)
        img.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let ok = out.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else {
            let m = message(img)
            png_image_free(&img)
            throw DataError("\(name): unreadable PNG (\(m); truncated or corrupt)")
        }
        // A warning here is libpng reading past a damaged chunk; the pixels are suspect.
        if img.warning_or_error & 3 != 0 {
            let m = message(img)
            png_image_free(&img)
            throw DataError("\(name): damaged PNG (\(m))")
        }
        png_image_free(&img)
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// The pixel layouts `encode` writes (tests and `mimlab folder export`).
    public enum Pixels {
        case rgb([UInt8])                                   // HWC
        case grey([UInt8])
        /// Indices into `palette` (RGB triples, at most 256).
        case palette(indices: [UInt8], palette: [UInt8])
    }

    public static func encode(_ pixels: Pixels, width: Int, height: Int) throws -> Data {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        img.width = UInt32(width); img.height = UInt32(height)
        let buffer: [UInt8], colormap: [UInt8]?
        switch pixels {
        case .rgb(let p): img.format = UInt32(PNG_FORMAT_RGB); buffer = p; colormap = nil
        case .grey(let p): img.format = UInt32(PNG_FORMAT_GRAY); buffer = p; colormap = nil
        case .palette(let idx, let pal):
            img.format = UInt32(PNG_FORMAT_RGB) | UInt32(PNG_FORMAT_FLAG_COLORMAP)
            img.colormap_entries = UInt32(pal.count / 3)
            buffer = idx; colormap = pal
        }
        var size = 0
        // First call sizes the output, second writes it.
        let sized = buffer.withUnsafeBytes { b in
            png_image_write_to_memory(&img, nil, &size, 0, b.baseAddress, 0, colormap)
        }
        guard sized != 0 else { throw DataError("PNG encode: \(message(img))") }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { o in
            buffer.withUnsafeBytes { b in png_image_write_to_memory(&img, o.baseAddress, &size, 0, b.baseAddress, 0, colormap) }
        }
        guard ok != 0 else { throw DataError("PNG encode: \(message(img))") }
        return out.prefix(size)
    }
}
