import Data
import Foundation
import Tensor
import Train
import XCTest

/// `data.dataset: folder` end to end: a folder written from the synthetic images as PNG
/// trains to the same numbers as those images taken from the synthetic cache; the config's
/// keys, run identity and errors.
final class FolderRunTests: XCTestCase {
    static let small = """
    data: {pool_size: 256, finetune_size: 128, test_size: 128}
    encoder: {preset: vit-nano}
    pretrain: {epochs: 1, batch: 64}
    finetune: {epochs: 1, batch: 64}
    linprobe: {epochs: 3, batch: 128}
    """

    var tmp: String!
    var root: String { (tmp as NSString).appendingPathComponent("folder") }
    var cache: String { (tmp as NSString).appendingPathComponent("cache") }

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-folder-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

    func config(_ overrides: [String] = [], path: String? = nil) throws -> RunConfig {
        try RunConfig.parse(yaml: Self.small, source: "small.yaml",
                            overrides: ["data.dataset=folder", "data.path=\(path ?? root)"] + overrides)
    }

    /// The synthetic pool (train/) and test split (val/) as PNG files; returns them.
    @discardableResult
    func writeSyntheticFolder(pool: Int = 320, test: Int = 160) throws -> (ImageDataset, ImageDataset) {
        let spec = SyntheticSpec(seed: 0, imageSize: 32, classes: 10)
        let p = try Synthetic.dataset(spec, split: .pool, count: pool, cacheDir: cache)
        let t = try Synthetic.dataset(spec, split: .test, count: test, cacheDir: cache)
        let names = FolderExport.syntheticClassNames(10)
        try FolderExport.write(p, classNames: names, to: "\(root)/train", format: .png)
        try FolderExport.write(t, classNames: names, to: "\(root)/val", format: .png)
        return (p, t)
    }

    func testFolderOfSyntheticPNGsTrainsLikeTheSyntheticCache() throws {
        let (pool, test) = try writeSyntheticFolder()
        let c = try config()
        let data = try RunDataFactory.make(c, cacheDir: cache)
        let viaFolder = try Run(config: c, outputDir: nil).execute(data)

        // The same selection of images, read from the synthetic cache instead: each folder
        // image's file name is its index in the synthetic split.
        let folder = try ImageFolder.scan(root)
        func fromCache(_ source: BatchLoader?, _ plain: PlainSource?) throws -> ImageDataset {
            let ds = (source?.dataset ?? plain!.dataset) as! FolderDataset
            var bytes: [UInt8] = []
            for i in 0..<ds.count {
                let path = folder.files[ds.indices[i]].path
                let split = path.hasPrefix("train/") ? pool : test
                let k = Int(((path as NSString).lastPathComponent as NSString).deletingPathExtension)!
                XCTAssertEqual(ds.pixels(i), split.pixels(k), path)          // PNG: exact
                XCTAssertEqual(ds.label(at: i), split.label(k), path)
                bytes += split.bytes[(k * split.recordSize)..<((k + 1) * split.recordSize)]
            }
            return try ImageDataset(bytes: bytes, imageSize: 32, numClasses: 10, name: "synthetic, folder order")
        }
        let p = try fromCache(data.pretrain as? BatchLoader, nil)
        let l = try fromCache(data.finetune as? BatchLoader, nil)
        let t = try fromCache(nil, data.test as? PlainSource)
        XCTAssertEqual([p.count, l.count, t.count], [256, 128, 128])
        XCTAssertEqual(l.classCounts(), [Int](repeating: 13, count: 8) + [12, 12])   // the label budget is balanced
        let (mean, std) = p.channelStatistics()
        let viaCache = try Run(config: c, outputDir: nil)
            .execute(RunDataFactory.assemble(c, pool: p, labelled: l, test: t, mean: mean, std: std))
        for key in ["pretrain.loss", "linprobe.top1", "finetune.top1", "finetune.loss"] {
            XCTAssertNotNil(viaFolder[key], key)
            XCTAssertEqual(viaFolder[key], viaCache[key], key)
        }
    }

    func testConfigNamesTheFolderByContentNotPath() throws {
        try writeSyntheticFolder(pool: 40, test: 20)
        let c = try config()
        XCTAssertEqual(c.data.classes, 10)
        XCTAssertEqual(c.data.resize, "shorter")
        XCTAssertEqual(c.data.normalize, "dataset")
        XCTAssertNil(c.data.valFraction)
        XCTAssertNil(c.data.syntheticVersion)
        XCTAssertEqual(c.data.folderHash, try ImageFolder.scan(root).contentHash)
        let json = c.canonicalJSON()
        XCTAssertFalse(json.contains(tmp), json)
        XCTAssert(json.contains("\"folder_hash\":\"\(c.data.folderHash!)\""), json)

        // The same files elsewhere: the same run; one file more: another run.
        let copy = (tmp as NSString).appendingPathComponent("copy")
        try FileManager.default.copyItem(atPath: root, toPath: copy)
        XCTAssertEqual(try config(path: copy).canonicalJSON(), json)
        XCTAssertEqual(try config(path: copy).data.path, copy)
        try FileManager.default.copyItem(atPath: "\(copy)/train/00-disc/000000.png", toPath: "\(copy)/train/00-disc/extra.png")
        XCTAssertNotEqual(try config(path: copy).canonicalJSON(), json)
        XCTAssertNotEqual(try config(["data.resize=squash"]).canonicalJSON(), json)
        // A paper spec's base names the synthetic drawing; on a folder it changes nothing.
        XCTAssertEqual(try config(["data.synthetic_version=5"]).canonicalJSON(), json)

        // Other datasets' configs do not gain the folder keys (their run ids stay).
        let synthetic = try RunConfig.parse(yaml: Self.small).canonicalJSON()
        for key in ["folder_hash", "resize", "normalize", "val_fraction"] { XCTAssertFalse(synthetic.contains(key), key) }
    }

    func testImageNetNormalisationAndAChangedFolder() throws {
        try writeSyntheticFolder(pool: 40, test: 20)
        let c = try config(["data.normalize=imagenet"])
        let data = try RunDataFactory.make(c, cacheDir: cache)
        XCTAssertEqual(data.pixels.mean, RunDataFactory.imagenetMean)
        XCTAssertEqual(data.pixels.std, RunDataFactory.imagenetStd)
        try FileManager.default.removeItem(atPath: "\(root)/train/00-disc/000000.png")
        XCTAssertThrowsError(try RunDataFactory.make(c, cacheDir: cache)) { e in
            XCTAssert("\(e)".hasPrefix("\(root): the folder's files changed since this run was configured"), "\(e)")
        }
    }

    func testBadFolderSettingsAreOneLineErrors() throws {
        try writeSyntheticFolder(pool: 40, test: 20)
        func assertError(_ overrides: [String], path: String? = nil, _ parts: [String], line: UInt = #line) {
            XCTAssertThrowsError(try config(overrides, path: path), line: line) { e in
                XCTAssertFalse("\(e)".contains("\n"), line: line)
                for p in parts { XCTAssert("\(e)".contains(p), "'\(p)' not in: \(e)", line: line) }
            }
        }
        assertError(["data.resize=crop"], ["--set data.resize=crop", "valid values are shorter, squash"])
        assertError(["data.normalize=cifar"], ["data.normalize = cifar", "dataset, imagenet"])
        assertError(["data.classes=5"], ["data.classes does not apply to data.dataset = folder"])
        assertError(["data.val_fraction=0.2"], ["--set data.path=", "data.val_fraction = 0.2", "train/ and val/"])
        assertError([], path: "\(tmp!)/nowhere", ["--set data.path=", "\(tmp!)/nowhere: no such directory"])
        assertError(["data.path="], ["data.dataset = folder needs data.path"])
        XCTAssertThrowsError(try RunConfig.parse(yaml: "data: {resize: squash}", source: "s.yaml")) { e in
            XCTAssertEqual("\(e)", "s.yaml:1: data.resize applies to data.dataset = folder only, not synthetic")
        }
    }
}
