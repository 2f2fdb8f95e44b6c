import Foundation

/// A decoded image: 8-bit RGB, interleaved (HWC), top row first. Every decoder hands out
/// this one format, so grey, palette, 16-bit and CMYK files are converted where they are read.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGB image of \(width)×\(height) needs \(width * height * 3) bytes")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// The largest image mimlab will decode (a 16k × 16k photo); larger headers are refused
    /// before anything is allocated, so a corrupt size field cannot exhaust memory.
    public static let maxPixels = 1 << 28

    /// Decodes PNG or JPEG bytes, told apart by their signature (not the file name).
    /// `minSide`: the decoder may shrink the image on the way (JPEG's DCT scaling) as long
    /// as both sides stay at least this long. `name` is the file, for messages.
    public static func decode(_ bytes: UnsafeRawBufferPointer, minSide: Int = 0, name: String) throws -> RGBImage {
        if PNG.isPNG(bytes) { return try PNG.decode(bytes, name: name) }
        if JPEG.isJPEG(bytes) { return try JPEG.decode(bytes, minSide: minSide, name: name) }
        if bytes.isEmpty { throw DataError("\(name): empty file (expected a PNG or JPEG image)") }
        throw DataError("\(name): not a PNG or JPEG image (unrecognised signature)")
    }

    /// Reads and decodes one file.
    public static func read(path: String, minSide: Int = 0) throws -> RGBImage {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): cannot read file (missing or unreadable)")
        }
        return try d.withUnsafeBytes { try decode($0, minSide: minSide, name: path) }
    }
}
