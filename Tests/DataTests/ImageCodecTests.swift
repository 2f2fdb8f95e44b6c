import Data
import Foundation
import XCTest

/// PNG and JPEG decoding through the system libraries, checked on images their own
/// encoders wrote: PNG exactly, JPEG on flat colours within a few levels.
final class ImageCodecTests: XCTestCase {
    /// 5×4 RGB whose every byte differs, so a swapped channel, row or column shows.
    static let rgb: [UInt8] = (0..<60).map { UInt8(($0 * 37 + 11) % 256) }

    func decode(_ d: Data, minSide: Int = 0) throws -> RGBImage {
        try d.withUnsafeBytes { try RGBImage.decode($0, minSide: minSide, name: "mem") }
    }

    func testPNGRGBGreyAndPaletteDecodeExactly() throws {
        let rgb = try decode(try PNG.encode(.rgb(Self.rgb), width: 5, height: 4))
        XCTAssertEqual([rgb.width, rgb.height], [5, 4])
        XCTAssertEqual(rgb.pixels, Self.rgb)

        let grey: [UInt8] = [0, 1, 127, 128, 254, 255]
        let g = try decode(try PNG.encode(.grey(grey), width: 3, height: 2))
        XCTAssertEqual(g.pixels, grey.flatMap { [$0, $0, $0] })

        let palette: [UInt8] = [255, 0, 0, 0, 200, 0, 10, 20, 30]
        let indices: [UInt8] = [0, 1, 2, 2, 1, 0]
        let p = try decode(try PNG.encode(.palette(indices: indices, palette: palette), width: 2, height: 3))
        XCTAssertEqual(p.pixels, indices.flatMap { Array(palette[(3 * Int($0))..<(3 * Int($0) + 3)]) })
    }

    func testJPEGFlatColoursGreyAndCMYK() throws {
        let n = 16 * 16
        let flat = try decode(try JPEG.encode(.rgb([UInt8]((0..<n).flatMap { _ in [200, 40, 90] as [UInt8] })), width: 16, height: 16,
                                              quality: 95))
        XCTAssertEqual([flat.width, flat.height], [16, 16])
        for (i, v) in flat.pixels.enumerated() { XCTAssertEqual(Int(v), [200, 40, 90][i % 3], accuracy: 3) }

        let grey = try decode(try JPEG.encode(.grey([UInt8](repeating: 77, count: n)), width: 16, height: 16, quality: 95))
        for v in grey.pixels { XCTAssertEqual(Int(v), 77, accuracy: 1) }

        // Adobe CMYK is stored inverted: (255, 128, 255, 200) is R = 200, G = 100, B = 200.
        let cmyk = try decode(try JPEG.encode(.cmyk([UInt8]((0..<n).flatMap { _ in [255, 128, 255, 200] as [UInt8] })),
                                              width: 16, height: 16, quality: 95))
        for (i, v) in cmyk.pixels.enumerated() { XCTAssertEqual(Int(v), [200, 100, 200][i % 3], accuracy: 3) }
    }

    func testJPEGShrinksByDCTScalingOnlyDownToMinSide() throws {
        let d = try JPEG.encode(.grey([UInt8](repeating: 50, count: 64 * 48)), width: 64, height: 48)
        let full = try decode(d)
        XCTAssertEqual([full.width, full.height], [64, 48])
        let half = try decode(d, minSide: 20)             // 1/2 gives 32×24; 3/8 gives 24×18 < 20
        XCTAssertEqual([half.width, half.height], [32, 24])
        let eighth = try decode(d, minSide: 6)
        XCTAssertEqual([eighth.width, eighth.height], [8, 6])
    }

    func testDamagedAndForeignBytesAreNamedErrors() throws {
        let png = try PNG.encode(.rgb((0..<(32 * 32 * 3)).map { UInt8($0 % 251) }), width: 32, height: 32)
        XCTAssertThrowsError(try png.prefix(png.count / 2).withUnsafeBytes { try RGBImage.decode($0, name: "half.png") }) { e in
            XCTAssert("\(e)".hasPrefix("half.png: unreadable PNG"), "\(e)")
        }
        let jpg = try JPEG.encode(.rgb((0..<(32 * 32 * 3)).map { UInt8($0 % 251) }), width: 32, height: 32)
        XCTAssertThrowsError(try jpg.prefix(jpg.count / 2).withUnsafeBytes { try RGBImage.decode($0, name: "half.jpg") }) { e in
            XCTAssert("\(e)".hasPrefix("half.jpg: unreadable JPEG"), "\(e)")
            XCTAssert("\(e)".contains("truncated"), "\(e)")
        }
        XCTAssertThrowsError(try Data("hello".utf8).withUnsafeBytes { try RGBImage.decode($0, name: "x.png") }) { e in
            XCTAssertEqual("\(e)", "x.png: not a PNG or JPEG image (unrecognised signature)")
        }
    }

    func testResizeKeepsSquareImagesExactlyAndAveragesWhenShrinking() throws {
        // An S×S image at S: byte for byte, as planes.
        let img = RGBImage(width: 5, height: 5, pixels: (0..<75).map { UInt8($0 * 3) })
        var out = [UInt8](repeating: 0, count: 75)
        ResizePolicy.shorter.apply(img, size: 5, into: &out)
        XCTAssertEqual(out, (0..<3).flatMap { c in (0..<25).map { UInt8(($0 * 3 + c) * 3) } })

        // A 0/255 checkerboard halved is mid-grey everywhere (no aliasing to 0 or 255).
        let board = RGBImage(width: 8, height: 8, pixels: (0..<64).flatMap { i -> [UInt8] in
            let v: UInt8 = (i / 8 + i % 8) % 2 == 0 ? 0 : 255; return [v, v, v] })
        var half = [UInt8](repeating: 0, count: 48)
        ResizePolicy.squash.apply(board, size: 4, into: &half)
        for v in half { XCTAssert((120...135).contains(v), "\(v)") }

        // shorter: a 6×2 image of columns 0, 50, …, 250 keeps its centre 2×2 (columns 2, 3).
        let wide = RGBImage(width: 6, height: 2, pixels: (0..<12).flatMap { i -> [UInt8] in
            let v = UInt8(i % 6 * 50); return [v, v, v] })
        var centre = [UInt8](repeating: 0, count: 12)
        ResizePolicy.shorter.apply(wide, size: 2, into: &centre)
        XCTAssertEqual(Array(centre[0..<4]), [100, 150, 100, 150])
        // squash keeps every column: the left output pixel averages the left half.
        var squashed = [UInt8](repeating: 0, count: 12)
        ResizePolicy.squash.apply(wide, size: 2, into: &squashed)
        XCTAssert(squashed[0] < 70 && squashed[1] > 180, "\(squashed)")
    }
}
