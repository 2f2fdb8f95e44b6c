import Foundation
import Tensor

/// An image-folder dataset as torchvision's `ImageFolder` reads it and ImageNet ships:
/// either `ROOT/train/<class>/<image>` with `ROOT/val/<class>/<image>`, or one
/// `ROOT/<class>/<image>` tree split into train and val by a seeded fraction of each class.
/// Classes are the sub-folder names in sorted order (label k = the k-th name), files within
/// a class in sorted order; `.png`, `.jpg` and `.jpeg` files in any case are images, hidden
/// files are ignored, and other files are skipped and counted (or refused, `strict`).
public struct ImageFolder: Sendable {
    public struct File: Sendable, Equatable {
        /// From the root, e.g. `train/n01440764/x.JPEG`.
        public var path: String
        public var label: Int
        public var size: Int64
        /// Modification time in nanoseconds (cache key only, not the content hash).
        public var mtime: Int64
    }

    public enum Layout: Sendable, Equatable {
        case trainVal
        /// One tree; this fraction of each class (seeded) is the validation split.
        case split(valFraction: Double)
    }

    public let root: String
    public let layout: Layout
    public let classes: [String]
    public let train: [File]
    public let val: [File]
    /// Non-image files found (root-relative), skipped.
    public let skipped: [String]

    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]
    public static let defaultValFraction = 0.1

    /// Python's `sorted()` order (code points), which torchvision's class indices follow.
    static func sorted(_ names: [String]) -> [String] {
        names.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }

    struct Entry { var name: String; var isDir: Bool; var size: Int64; var mtime: Int64 }

    static func entries(_ dir: String) throws -> [Entry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw DataError("\(dir): cannot list directory (\(error.localizedDescription))")
        }
        return try sorted(names.filter { !$0.hasPrefix(".") }).map { name in
            var st = stat()
            let p = (dir as NSString).appendingPathComponent(name)
            guard stat(p, &st) == 0 else { throw DataError("\(p): cannot stat (\(String(cString: strerror(errno))))") }
            return Entry(name: name, isDir: st.st_mode & S_IFMT == S_IFDIR, size: Int64(st.st_size),
                         mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Lists `root`. `valFraction` applies to the one-tree layout (nil: the default); it is
    /// an error with `train/` + `val/`. `strict`: a non-image file is an error.
    public static func scan(_ root: String, valFraction: Double? = nil, strict: Bool = false) throws -> ImageFolder {
        guard isDirectory(root) else {
            throw DataError("\(root): no such directory (data.path of a folder dataset: ROOT/<class>/<image> or ROOT/train/ + ROOT/val/)")
        }
        var skipped: [String] = []
        let trainDir = (root as NSString).appendingPathComponent("train")
        if isDirectory(trainDir) {
            let valDir = (root as NSString).appendingPathComponent("val")
            guard isDirectory(valDir) else { throw DataError("\(valDir): missing; a folder with train/ needs val/ beside it") }
            if let f = valFraction {
                throw DataError("\(root): data.val_fraction = \(f) applies to a single class tree; this folder has train/ and val/")
            }
            let (classes, train) = try scanClasses(root, "train", known: nil, skipped: &skipped)
            let (_, val) = try scanClasses(root, "val", known: classes, skipped: &skipped)
            return try ImageFolder(root: root, layout: .trainVal, classes: classes, train: train, val: val,
                                   skipped: skipped, strict: strict)
        }
        let fraction = valFraction ?? defaultValFraction
        guard fraction > 0 && fraction < 1 else { throw DataError("\(root): data.val_fraction = \(fraction): must be in (0, 1)") }
        let (classes, all) = try scanClasses(root, nil, known: nil, skipped: &skipped)
        // Per class, a seeded choice of round(fraction × n) files is val. Seeded by the class
        // name, so adding a class leaves the other classes' splits as they were.
        var train: [File] = [], val: [File] = []
        let rng = PRNG(seed: 0).fork("val-split")
        for (k, name) in classes.enumerated() {
            let files = all.filter { $0.label == k }
            var r = rng.fork(name)
            let chosen = Set(r.permutation(files.count).prefix(Int((fraction * Double(files.count)).rounded())))
            for (i, f) in files.enumerated() { if chosen.contains(i) { val.append(f) } else { train.append(f) } }
        }
        return try ImageFolder(root: root, layout: .split(valFraction: fraction), classes: classes, train: train,
                               val: val, skipped: skipped, strict: strict)
    }

    init(root: String, layout: Layout, classes: [String], train: [File], val: [File], skipped: [String], strict: Bool) throws {
        if strict, let first = skipped.first {
            throw DataError("\((root as NSString).appendingPathComponent(first)): not a .png, .jpg or .jpeg file (\(skipped.count) such file(s) under \(root); --strict refuses them)")
        }
        guard !val.isEmpty else {
            throw DataError("\(root): no validation images (val/ is empty, or data.val_fraction leaves every class without one)")
        }
        self.root = root; self.layout = layout; self.classes = classes
        self.train = train; self.val = val; self.skipped = skipped
    }

    /// The class folders of `root/sub` and their images, labelled by sorted class name
    /// (or by `known`'s order, for val/).
    static func scanClasses(_ root: String, _ sub: String?, known: [String]?,
                            skipped: inout [String]) throws -> ([String], [File]) {
        let dir = sub.map { (root as NSString).appendingPathComponent($0) } ?? root
        let prefix = sub.map { "\($0)/" } ?? ""
        let top = try entries(dir)
        for e in top where !e.isDir { skipped.append(prefix + e.name) }
        let classes = top.filter(\.isDir).map(\.name)
        if let known {
            if let extra = classes.first(where: { !known.contains($0) }) {
                throw DataError("\(dir)/\(extra): class not in train/ (train has \(known.count) classes: \(known.prefix(5).joined(separator: ", "))\(known.count > 5 ? ", …" : ""))")
            }
        } else {
            guard !classes.isEmpty else { throw DataError("\(dir): no class folders (expected \(dir)/<class>/<image>.png or .jpg)") }
            guard classes.count >= 2 else {
                throw DataError("\(dir): one class folder only ('\(classes[0])'); classification needs at least 2")
            }
        }
        let index = Dictionary(uniqueKeysWithValues: (known ?? classes).enumerated().map { ($1, $0) })
        var files: [File] = []
        for c in classes {
            var n = 0
            for e in try entries("\(dir)/\(c)") {
                let rel = "\(prefix)\(c)/\(e.name)"
                guard !e.isDir, imageExtensions.contains((e.name as NSString).pathExtension.lowercased()) else {
                    skipped.append(rel); continue
                }
                files.append(File(path: rel, label: index[c]!, size: e.size, mtime: e.mtime))
                n += 1
            }
            guard n > 0 else { throw DataError("\(dir)/\(c): empty class folder (no .png, .jpg or .jpeg files)") }
        }
        return (classes, files)
    }

    /// Every image, train then val: the order of the decoded cache.
    public var files: [File] { train + val }

    /// What the data is, independent of where it lies: SHA-256 (16 hex digits) over the
    /// layout and each image's relative path and size. Part of a run's config, so the same
    /// folder copied to a cluster's shared filesystem gives the same run ids, and a changed
    /// one gives new ids.
    public var contentHash: String {
        var text = "mimlab-folder-v1\n\(layoutText)\n"
        for f in files { text += "\(f.path)\t\(f.size)\n" }
        return String(SHA256.hex(Array(text.utf8)).prefix(16))
    }

    /// The decoded cache's key: also each file's modification time, so a file rewritten
    /// in place is decoded again.
    public var cacheKey: String {
        var text = "mimlab-folder-cache-v1\n\(layoutText)\n"
        for f in files { text += "\(f.path)\t\(f.size)\t\(f.mtime)\n" }
        return String(SHA256.hex(Array(text.utf8)).prefix(16))
    }

    var layoutText: String {
        switch layout {
        case .trainVal: return "train-val"
        case .split(let f): return "split \(f)"
        }
    }
}
