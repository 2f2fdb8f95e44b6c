import Foundation
import Yams

/// A YAML document as nested mappings that remember where every value came from, so a bad
/// value is reported as `file:line: field = value: why; valid: …`, and keys that nothing
/// reads (typos) are errors instead of silently ignored.
public final class ConfigTree {
    public indirect enum Value {
        case scalar(String)
        case list([Entry])
        case map([String: Entry], order: [String])
    }

    public struct Entry {
        public var value: Value
        public var origin: String     // "file:line" or "--set"
        public init(value: Value, origin: String) { self.value = value; self.origin = origin }
    }

    public let source: String
    /// The document had no content (empty, blank or only comments).
    public private(set) var isEmpty = false
    private(set) var root: Entry
    private var consumed: Set<String> = []

    /// Configs and specs are hand-written pages; a larger file is a mistake (or an attack),
    /// and is refused before the YAML parser spends time and memory on it.
    public static let maxFileBytes = 1 << 20

    public init(yaml: String, source: String) throws {
        self.source = source
        guard yaml.utf8.count <= ConfigTree.maxFileBytes else {
            throw ConfigError("\(source): \(yaml.utf8.count) bytes; a config or spec is at most \(ConfigTree.maxFileBytes) bytes (1 MiB)")
        }
        guard let doc = try ConfigTree.compose(yaml, source: source) else {
            root = Entry(value: .map([:], order: []), origin: "\(source):1"); isEmpty = true; return
        }
        guard doc.isMapping else { throw ConfigError("\(source):\(doc.mark?.line ?? 1): the top level must be a mapping of sections") }
        root = doc.converted
    }

    public convenience init(file path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw ConfigError("\(path): is a directory; give a YAML file")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > ConfigTree.maxFileBytes {
            throw ConfigError("\(path): \(size) bytes; a config or spec is at most \(ConfigTree.maxFileBytes) bytes (1 MiB)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): cannot read file (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError("\(path): not UTF-8 text; configs and specs are YAML") }
        try self.init(yaml: text, source: path)
    }

    /// Parses YAML into entries, refusing what a config never needs and what makes YAML
    /// unsafe to read: anchors and aliases (an alias "bomb" expands exponentially) and tags
    /// (`!!binary`, `!!python/…`). Each is an error at its line.
    static func compose(_ yaml: String, source: String) throws -> ConversionResult? {
        do {
            // The parser owns the anchors: it must outlive the walk that looks for them.
            let parser = try Parser(yaml: yaml)
            guard let node = try parser.singleRoot() else { return nil }
            return try withExtendedLifetime(parser) { try ConversionResult(node, source: source, text: SourceText(yaml)) }
        } catch let e as ConfigError { throw e } catch {
            throw ConfigError(describe(yamlError: error, source: source, yaml: yaml))
        }
    }

    /// A YAML error as `file:line: problem`, without the document Yams appends.
    static func describe(yamlError error: Error, source: String, yaml: String) -> String {
        func at(_ mark: Mark, _ problem: String) -> String { "\(source):\(mark.line): not valid YAML: \(problem)" }
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return at(mark, problem)
            case .duplicatedKeysInMapping(let keys, let context):
                // Yams marks the first of the two; the second, at the same indentation below, is the one to remove.
                let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
                let indent = context.mark.column - 1
                let second = lines.indices.dropFirst(context.mark.line).first { i in
                    let l = lines[i]
                    guard l.count > indent, l.prefix(indent).allSatisfy({ $0 == " " }) else { return false }
                    let rest = l.dropFirst(indent)
                    return keys.contains { rest.hasPrefix($0) && rest.dropFirst($0.count).drop(while: { $0 == " " }).hasPrefix(":") }
                }.map { $0 + 1 } ?? context.mark.line
                return "\(source):\(second): duplicate key \(keys.sorted().map { "'\($0)'" }.joined(separator: ", ")); each key once per section"
            case .reader(let problem, _, _, _):
                return "\(source): not valid YAML: \(problem)"
            default: break
            }
        }
        let s = "\(error)".replacingOccurrences(of: "\n", with: " ")
        return "\(source): not valid YAML: " + (s.count > 200 ? String(s.prefix(200)) + "…" : s)
    }

    /// A composed document checked and converted (`converted` is the root entry).
    struct ConversionResult {
        let converted: Entry
        let mark: Mark?
        let isMapping: Bool

        init(_ node: Node, source: String, text: SourceText) throws {
            converted = try ConfigTree.convert(node, source: source, text: text)
            mark = node.mark
            if case .mapping = node { isMapping = true } else { isMapping = false }
        }
    }

    /// The document's characters by line, to look at what starts each node: Yams resolves
    /// aliases and implicit tags as it composes, so only the text tells an explicit tag
    /// (`!!binary x`) or an anchor (`&a`) from a plain value.
    struct SourceText {
        let lines: [[Unicode.Scalar]]
        init(_ yaml: String) {
            lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        }
        func first(at mark: Mark?) -> Unicode.Scalar? {
            guard let mark, mark.line >= 1, mark.line <= lines.count else { return nil }
            let line = lines[mark.line - 1]
            return mark.column >= 1 && mark.column <= line.count ? line[mark.column - 1] : nil
        }
    }

    static func refuseAnchorsAndTags(_ node: Node, source: String, text: SourceText) throws {
        let line = "\(source):\(node.mark?.line ?? 0)"
        var anchor: Anchor?
        switch node {
        case .scalar(let s): anchor = s.anchor
        case .sequence(let q): anchor = q.anchor
        case .mapping(let m): anchor = m.anchor
        case .alias(let a): anchor = a.anchor
        }
        let first = text.first(at: node.mark)
        if anchor != nil || first == "&" || first == "*" {
            let name = anchor.map { $0.rawValue } ?? "name"
            throw ConfigError("\(line): YAML anchors and aliases (&\(name), *\(name)) are not supported; write the value out")
        }
        if first == "!" {
            throw ConfigError("\(line): YAML tags (such as !!binary, !!str) are not supported; write a plain value (a number, true/false or text)")
        }
    }

    static func convert(_ node: Node, source: String, text: SourceText) throws -> Entry {
        try refuseAnchorsAndTags(node, source: source, text: text)
        let origin = "\(source):\(node.mark?.line ?? 0)"
        switch node {
        case .scalar(let s): return Entry(value: .scalar(s.string), origin: origin)
        case .sequence(let seq): return Entry(value: .list(try seq.map { try convert($0, source: source, text: text) }), origin: origin)
        case .mapping(let m):
            var dict: [String: Entry] = [:], order: [String] = []
            for (k, v) in m {
                try refuseAnchorsAndTags(k, source: source, text: text)
                guard let key = k.string else { throw ConfigError("\(source):\(k.mark?.line ?? 0): keys must be plain names") }
                if dict[key] != nil { throw ConfigError("\(source):\(k.mark?.line ?? 0): duplicate key '\(key)'") }
                var e = try convert(v, source: source, text: text)
                e.origin = "\(source):\(k.mark?.line ?? 0)"
                dict[key] = e
                order.append(key)
            }
            return Entry(value: .map(dict, order: order), origin: origin)
        case .alias: throw ConfigError("\(origin): YAML aliases are not supported in configs")
        }
    }

    /// `key.path=value` from the command line; the value is read as YAML (so `0.75`, `true`,
    /// `[4, 8]` work).
    public func set(_ assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
            throw ConfigError("--set \(assignment): expected key.path=value, e.g. mask.ratio=0.75")
        }
        let path = assignment[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
            throw ConfigError("--set \(assignment): '\(assignment[..<eq])' is not a key path; expected key.path=value, e.g. mask.ratio=0.75")
        }
        let text = String(assignment[assignment.index(after: eq)...])
        let value: Entry
        do {
            if let doc = try ConfigTree.compose(text, source: "--set") { value = doc.converted }
            else { value = Entry(value: .scalar(""), origin: "--set") }
        } catch let e as ConfigError {
            throw ConfigError("--set \(assignment): \(e.description.replacingOccurrences(of: "--set:1: ", with: ""))")
        }
        var v = value
        v.origin = "--set \(assignment)"
        root = try ConfigTree.insert(v, at: path[...], into: root, full: path.joined(separator: "."))
    }

    static func insert(_ v: Entry, at path: ArraySlice<String>, into e: Entry, full: String) throws -> Entry {
        guard let head = path.first else { return v }
        guard case .map(var dict, var order) = e.value else {
            throw ConfigError("--set \(full): '\(head)' is inside a value that is not a section")
        }
        let child = dict[head] ?? Entry(value: .map([:], order: []), origin: v.origin)
        dict[head] = try insert(v, at: path.dropFirst(), into: child, full: full)
        if !order.contains(head) { order.append(head) }
        return Entry(value: .map(dict, order: order), origin: e.origin)
    }

    /// Puts `value` at `path` keeping its origin, so a value taken from another file (a sweep
    /// spec's grid) is reported at its own file:line when it is invalid.
    public func set(_ path: String, to value: Entry) throws {
        root = try ConfigTree.insert(value, at: path.split(separator: ".").map(String.init)[...], into: root, full: path)
    }

    public func entry(_ path: String) -> Entry? {
        var e = root
        for part in path.split(separator: ".") {
            guard case .map(let dict, _) = e.value, let next = dict[String(part)] else { return nil }
            e = next
        }
        return e
    }

    /// Marks `path` as read; returns its scalar text if present.
    public func scalar(_ path: String) throws -> (String, String)? {
        consumed.insert(path)
        guard let e = entry(path) else { return nil }
        guard case .scalar(let s) = e.value else { throw ConfigError("\(e.origin): \(path) must be a single value") }
        return (s, e.origin)
    }

    public func has(_ path: String) -> Bool { entry(path) != nil }

    public func markRead(_ path: String) { consumed.insert(path) }

    /// Errors for keys nothing read, naming the valid keys of their section.
    public func checkAllRead(validKeys: [String: [String]]) throws {
        func walk(_ e: Entry, _ prefix: String) throws {
            guard case .map(let dict, let order) = e.value else { return }
            for key in order {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                let child = dict[key]!
                if consumed.contains(path) { continue }
                if case .map = child.value, consumed.contains(where: { $0.hasPrefix(path + ".") }) {
                    try walk(child, path)
                    continue
                }
                if let keys = validKeys[path] {
                    throw ConfigError("\(child.origin): \(path) is a section, not a value; set its keys (\(keys.joined(separator: ", "))), e.g. \(path).\(keys[0])")
                }
                let section = prefix.isEmpty ? "the top level" : prefix
                let valid = validKeys[prefix] ?? []
                throw ConfigError("\(child.origin): unknown key '\(path)'; valid keys in \(section): \(valid.joined(separator: ", "))")
            }
        }
        try walk(root, "")
    }
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Typed reads with messages that name the field, the value and what is valid.
public struct ConfigReader {
    public let tree: ConfigTree

    public init(_ tree: ConfigTree) { self.tree = tree }

    public func int(_ path: String, _ def: Int, min: Int? = nil, max: Int? = nil, why: String? = nil) throws -> Int {
        guard let (s, origin) = try tree.scalar(path) else { return def }
        guard let v = Int(s) else {
            let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
            if s.allSatisfy(\.isNumber), let max {
                throw ConfigError("\(origin): \(path) = \(shown): too large; must be at most \(max)\(why.map { " " + $0 } ?? "")")
            }
            throw ConfigError("\(origin): \(path) = \(shown): expected a whole number")
        }
        if let min, v < min { throw ConfigError("\(origin): \(path) = \(v): must be at least \(min)") }
        if let max, v > max { throw ConfigError("\(origin): \(path) = \(v): must be at most \(max)\(why.map { " " + $0 } ?? "")") }
        return v
    }

    public func optionalInt(_ path: String, min: Int? = nil) throws -> Int? {
        guard tree.has(path) else { tree.markRead(path); return nil }
        return try int(path, 0, min: min)
    }

    public func double(_ path: String, _ def: Double, range: ClosedRange<Double>? = nil,
                       open: (Double, Double)? = nil, rule: String? = nil) throws -> Double {
        guard let (s, origin) = try tree.scalar(path) else { return def }
        guard let v = Double(s), v.isFinite else { throw ConfigError("\(origin): \(path) = \(s): expected a number") }
        if let range, !range.contains(v) {
            throw ConfigError("\(origin): \(path) = \(s): must be in [\(range.lowerBound), \(range.upperBound)]")
        }
        if let (lo, hi) = open, !(v > lo && v < hi) {
            // A rule in words ("must be positive") still says the bounds: 1e12 is positive too.
            let bounds = "\(String(format: "%g", lo)) < \(path) < \(String(format: "%g", hi))"
            throw ConfigError("\(origin): \(path) = \(s): " + (rule.map { "\($0); valid: \(bounds)" } ?? "must be in (\(lo), \(hi))"))
        }
        return v
    }

    public func bool(_ path: String, _ def: Bool) throws -> Bool {
        guard let (s, origin) = try tree.scalar(path) else { return def }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigError("\(origin): \(path) = \(s): expected true or false")
        }
    }

    public func string(_ path: String, _ def: String, oneOf valid: [String]? = nil) throws -> String {
        guard let (s, origin) = try tree.scalar(path) else { return def }
        if let valid, !valid.contains(s) {
            throw ConfigError("\(origin): \(path) = \(s): valid values are \(valid.joined(separator: ", "))")
        }
        return s
    }

    /// Where `path` was set, for errors found after reading (cross-field checks).
    public func origin(_ path: String) -> String { tree.entry(path)?.origin ?? tree.source }
}
