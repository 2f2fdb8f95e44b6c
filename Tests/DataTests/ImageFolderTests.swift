import Data
import Foundation
import Tensor
import XCTest

/// Image folders the tests write themselves: labels and order, the decoded pixels, the
/// cache's reuse and invalidation, and every error message.
final class ImageFolderTests: TempDirTestCase {
    var root: String { dir.appendingPathComponent("data").path }
    var cache: String { dir.appendingPathComponent("cache").path }

    /// A 4×4 RGB image whose bytes encode `seed`, as PNG.
    static func pixels(_ seed: Int) -> [UInt8] { (0..<48).map { UInt8(($0 * 5 + seed * 29) % 256) } }

    func put(_ data: Data, _ rel: String) throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func png(_ seed: Int) throws -> Data { try PNG.encode(.rgb(Self.pixels(seed)), width: 4, height: 4) }

    /// train/{b, a, C}/ and val/{a, b}/: RGB, grey and palette PNGs, a flat JPEG, and clutter.
    func writeTree() throws {
        try put(try png(1), "train/b/1.png")
        try put(try png(2), "train/b/0.PNG")
        try put(try PNG.encode(.grey((0..<16).map { UInt8($0 * 16) }), width: 4, height: 4), "train/a/grey.png")
        try put(try PNG.encode(.palette(indices: (0..<16).map { UInt8($0 % 2) }, palette: [9, 8, 7, 250, 251, 252]),
                               width: 4, height: 4), "train/a/pal.png")
        try put(try JPEG.encode(.rgb([UInt8]((0..<16).flatMap { _ in [30, 160, 220] as [UInt8] })), width: 4, height: 4,
                                quality: 100), "train/C/flat.jpeg")
        try put(try png(3), "val/a/v.png")
        try put(try png(4), "val/b/v.png")
        try put(Data("notes".utf8), "train/a/README.txt")
        try put(Data("x".utf8), "train/.DS_Store")
    }

    func chw(_ hwc: [UInt8]) -> [UInt8] { (0..<3).flatMap { c in (0..<16).map { hwc[3 * $0 + c] } } }

    func testClassesLabelsOrderAndDecodedPixels() throws {
        try writeTree()
        let f = try ImageFolder.scan(root)
        XCTAssertEqual(f.classes, ["C", "a", "b"])                    // code-point order, as Python's sorted()
        XCTAssertEqual(f.layout, .trainVal)
        XCTAssertEqual(f.train.map(\.path), ["train/C/flat.jpeg", "train/a/grey.png", "train/a/pal.png", "train/b/0.PNG", "train/b/1.png"])
        XCTAssertEqual(f.train.map(\.label), [0, 1, 1, 2, 2])
        XCTAssertEqual(f.val.map(\.path), ["val/a/v.png", "val/b/v.png"])
        XCTAssertEqual(f.val.map(\.label), [1, 2])                     // train's indices, though val has no C
        XCTAssertEqual(f.skipped, ["train/a/README.txt"])              // the hidden file is not counted

        let (train, val) = try f.load(size: 4, policy: .shorter, cacheDir: cache)
        XCTAssertEqual([train.count, val.count, train.numClasses, train.imageSize], [5, 2, 3, 4])
        XCTAssertEqual((0..<5).map { train.label(at: $0) }, [0, 1, 1, 2, 2])
        XCTAssertEqual(train.pixels(1), (0..<3).flatMap { _ in (0..<16).map { UInt8($0 * 16) } })
        XCTAssertEqual(train.pixels(2), chw((0..<16).flatMap { $0 % 2 == 0 ? [9, 8, 7] : [250, 251, 252] as [UInt8] }))
        XCTAssertEqual(train.pixels(3), chw(Self.pixels(2)))
        XCTAssertEqual(train.pixels(4), chw(Self.pixels(1)))
        XCTAssertEqual(val.pixels(1), chw(Self.pixels(4)))
        for (i, v) in train.pixels(0).enumerated() { XCTAssertEqual(Int(v), [30, 160, 220][i / 16], accuracy: 3) }
    }

    func testOneTreeIsSplitBySeededFractionPerClass() throws {
        for k in 0..<3 { for i in 0..<10 { try put(try png(i), "c\(k)/\(i).png") } }
        let f = try ImageFolder.scan(root, valFraction: 0.3)
        XCTAssertEqual(f.layout, .split(valFraction: 0.3))
        XCTAssertEqual([f.train.count, f.val.count], [21, 9])
        XCTAssertEqual(f.val.map(\.label), [0, 0, 0, 1, 1, 1, 2, 2, 2])
        XCTAssertEqual(try ImageFolder.scan(root, valFraction: 0.3).val, f.val)          // same seed, same split
        XCTAssertNotEqual(Set(f.val.filter { $0.label == 0 }.map { $0.path.dropFirst(3) }),
                          Set(f.val.filter { $0.label == 1 }.map { $0.path.dropFirst(3) }))   // seeded per class
        XCTAssertEqual(try ImageFolder.scan(root).val.count, 3)                           // default 0.1
    }

    func testBalancedSubsetTakesClassesInTurn() throws {
        for (k, n) in [5, 2, 9].enumerated() { for i in 0..<n { try put(try png(i), "c\(k)/\(i).png") } }
        try put(try png(0), "c0/v.png")
        let f = try ImageFolder.scan(root, valFraction: 0.2)
        let (train, _) = try f.load(size: 4, policy: .squash, cacheDir: cache)
        let counts = { (d: FolderDataset) in (0..<3).map { k in (0..<d.count).filter { d.label(at: $0) == k }.count } }
        let all = counts(train)
        let sub = train.balancedSubset(7, seed: PRNG(seed: 0))
        XCTAssertEqual(counts(sub), [3, min(2, all[1]), 7 - 3 - min(2, all[1])])
        XCTAssertEqual(sub.indices, sub.indices.sorted())
        XCTAssertEqual(train.balancedSubset(7, seed: PRNG(seed: 0)).indices, sub.indices)
        XCTAssertNotEqual(train.balancedSubset(3, seed: PRNG(seed: 1)).indices, train.balancedSubset(3, seed: PRNG(seed: 2)).indices)
        XCTAssertEqual(train.balancedSubset(1000, seed: PRNG(seed: 0)).count, train.count)
    }

    func testCacheIsReusedUntilTheFolderChanges() throws {
        try writeTree()
        var decodes = 0
        let count = { (e: FolderCache.Event) in if case .decoding = e { decodes += 1 } }
        let f = try ImageFolder.scan(root)
        _ = try f.load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        _ = try ImageFolder.scan(root).load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        XCTAssertEqual(decodes, 1)
        _ = try f.load(size: 2, policy: .shorter, cacheDir: cache, report: count)     // another size: another cache
        XCTAssertEqual(decodes, 2)

        // Rewritten in place with the same bytes: same names and sizes, so the same content
        // hash (and run ids), but a new modification time, so decoded again.
        let path = (root as NSString).appendingPathComponent("train/b/1.png")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: path)
        let g = try ImageFolder.scan(root)
        XCTAssertEqual(g.contentHash, f.contentHash)
        XCTAssertNotEqual(g.cacheKey, f.cacheKey)
        _ = try g.load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        XCTAssertEqual(decodes, 3)
        // Another image under the same name: a new content hash, and the new pixels show.
        try png(9).write(to: URL(fileURLWithPath: path))
        let g2 = try ImageFolder.scan(root)
        XCTAssertNotEqual(g2.contentHash, f.contentHash)
        let (train, _) = try g2.load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        XCTAssertEqual(decodes, 4)
        XCTAssertEqual(train.pixels(4), chw(Self.pixels(9)))

        // A new file changes the content hash; a truncated cache file is decoded again.
        try put(try png(5), "train/C/new.png")
        let h = try ImageFolder.scan(root)
        XCTAssertNotEqual(h.contentHash, f.contentHash)
        _ = try h.load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        let file = (cache as NSString).appendingPathComponent(FolderCache.fileName(h, size: 4, policy: .shorter))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count - 1).write(to: URL(fileURLWithPath: file))
        _ = try h.load(size: 4, policy: .shorter, cacheDir: cache, report: count)
        XCTAssertEqual(decodes, 6)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix(".") }, [])
    }

    func testContentHashIgnoresWhereTheFolderIs() throws {
        try writeTree()
        let copy = dir.appendingPathComponent("elsewhere").path
        try FileManager.default.copyItem(atPath: root, toPath: copy)
        XCTAssertEqual(try ImageFolder.scan(copy).contentHash, try ImageFolder.scan(root).contentHash)
    }

    func testBadFoldersAndFilesAreNamedErrors() throws {
        assertThrowsDataError(try ImageFolder.scan(root), mentions: [root, "no such directory"])
        try put(try png(1), "only/a.png")
        assertThrowsDataError(try ImageFolder.scan(root), mentions: [root, "one class folder only ('only')", "at least 2"])
        try FileManager.default.createDirectory(atPath: "\(root)/empty", withIntermediateDirectories: true)
        assertThrowsDataError(try ImageFolder.scan(root), mentions: ["\(root)/empty", "empty class folder"])
        try put(Data("x".utf8), "empty/notes.txt")
        assertThrowsDataError(try ImageFolder.scan(root), mentions: ["\(root)/empty", "empty class folder"])
        try put(try png(2), "empty/b.png")
        XCTAssertEqual(try ImageFolder.scan(root, valFraction: 0.5).skipped, ["empty/notes.txt"])
        assertThrowsDataError(try ImageFolder.scan(root, valFraction: 0.5, strict: true),
                              mentions: ["\(root)/empty/notes.txt", "not a .png, .jpg or .jpeg file", "1 such file", "--strict"])
        assertThrowsDataError(try ImageFolder.scan(root, valFraction: 0.01), mentions: [root, "no validation images"])

        // A truncated PNG and a truncated JPEG are named when decoding.
        let full = try PNG.encode(.rgb((0..<(16 * 16 * 3)).map { UInt8($0 % 253) }), width: 16, height: 16)
        try put(full.prefix(full.count - 20), "only/cut.png")
        var f = try ImageFolder.scan(root, valFraction: 0.5)
        assertThrowsDataError(try f.load(size: 4, policy: .shorter, cacheDir: cache),
                              mentions: ["\(root)/only/cut.png", "unreadable PNG", "truncated or corrupt"])
        try FileManager.default.removeItem(atPath: "\(root)/only/cut.png")
        try put(Data("not an image".utf8), "empty/fake.png")
        f = try ImageFolder.scan(root, valFraction: 0.5)
        assertThrowsDataError(try f.load(size: 4, policy: .shorter, cacheDir: cache),
                              mentions: ["\(root)/empty/fake.png", "not a PNG or JPEG image"])
        try FileManager.default.removeItem(atPath: "\(root)/empty/fake.png")
        let jpg = try JPEG.encode(.rgb((0..<(16 * 16 * 3)).map { UInt8($0 % 253) }), width: 16, height: 16)
        try put(jpg.prefix(jpg.count - 40), "only/cut.jpg")
        f = try ImageFolder.scan(root, valFraction: 0.5)
        assertThrowsDataError(try f.load(size: 4, policy: .shorter, cacheDir: cache),
                              mentions: ["\(root)/only/cut.jpg", "unreadable JPEG", "truncated or corrupt"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache), [])   // no half-written cache
    }

    func testTrainValLayoutErrors() throws {
        try put(try png(1), "train/a/1.png")
        try put(try png(2), "train/b/1.png")
        assertThrowsDataError(try ImageFolder.scan(root), mentions: ["\(root)/val", "missing", "needs val/"])
        try put(try png(3), "val/z/1.png")
        assertThrowsDataError(try ImageFolder.scan(root), mentions: ["\(root)/val/z", "class not in train/", "a, b"])
        try FileManager.default.removeItem(atPath: "\(root)/val/z")
        try put(try png(3), "val/a/1.png")
        assertThrowsDataError(try ImageFolder.scan(root, valFraction: 0.2), mentions: [root, "data.val_fraction = 0.2", "train/ and val/"])
        XCTAssertEqual(try ImageFolder.scan(root).val.count, 1)
    }
}
