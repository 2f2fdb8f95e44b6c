import Foundation

/// A look at a dataset without an image library: a binary PPM (P6) grid with one row per
/// class holding that class's first `perClass` images, each magnified `zoom` times, on a
/// grey 1-pixel-per-zoom gutter. Convert with any viewer (or `pnmtopng`).
public enum Preview {
    public static func ppmGrid(_ ds: any Dataset, perClass: Int, zoom: Int = 3) -> Data {
        precondition(ds.channels == 3, "a PPM preview needs RGB images")
        let S = ds.imageSize, K = ds.numClasses, hw = S * S
        var rows = [[Int]](repeating: [], count: K)
        for i in 0..<ds.count where rows[ds.label(at: i)].count < perClass { rows[ds.label(at: i)].append(i) }
        let cell = S * zoom + zoom
        let W = perClass * cell + zoom, H = K * cell + zoom
        var px = [UInt8](repeating: 128, count: W * H * 3)
        for (k, row) in rows.enumerated() {
            for (col, i) in row.enumerated() {
                ds.withPixels(i) { p in
                    for y in 0..<(S * zoom) {
                        for x in 0..<(S * zoom) {
                            let o = ((k * cell + zoom + y) * W + col * cell + zoom + x) * 3
                            let s = (y / zoom) * S + x / zoom
                            px[o] = p[s]; px[o + 1] = p[hw + s]; px[o + 2] = p[2 * hw + s]
                        }
                    }
                }
            }
        }
        return Data("P6\n\(W) \(H)\n255\n".utf8) + Data(px)
    }

    public static func writePPM(_ ds: any Dataset, perClass: Int, zoom: Int = 3, to path: String) throws {
        try AtomicWrite.write(ppmGrid(ds, perClass: perClass, zoom: zoom), to: path)
    }
}
