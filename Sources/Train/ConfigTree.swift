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
    private(set) var root: Entry
    private var consumed: Set<String> = []

    public init(yaml: String, source: String) throws {
        self.source = source
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            throw ConfigError("\(source): not valid YAML: \(ConfigTree.describe(yamlError: error))")
        }
        guard let node else { root = Entry(value: .map([:], order: []), origin: "\(source):1"); return }
        root = try ConfigTree.convert(node, source: source)
        guard case .map = root.value else { throw ConfigError("\(root.origin): the top level must be a mapping of sections") }
    }

    public convenience init(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): cannot read file (missing or unreadable)")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), source: path)
    }

    static func describe(yamlError error: Error) -> String {
        let s = "\(error)".replacingOccurrences(of: "\n", with: " ")
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }

    static func convert(_ node: Node, source: String) throws -> Entry {
        let origin = "\(source):\(node.mark?.line ?? 0)"
        switch node {
        case .scalar(let s): return Entry(value: .scalar(s.string), origin: origin)
        case .sequence(let seq): return Entry(value: .list(try seq.map { try convert($0, source: source) }), origin: origin)
        case .mapping(let m):
            var dict: [String: Entry] = [:], order: [String] = []
            for (k, v) in m {
                guard let key = k.string else { throw ConfigError("\(source):\(k.mark?.line ?? 0): keys must be plain names") }
                if dict[key] != nil { throw ConfigError("\(source):\(k.mark?.line ?? 0): duplicate key '\(key)'") }
                var e = try convert(v, source: source)
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
        let path = assignment[..<eq].split(separator: ".").map(String.init)
        let text = String(assignment[assignment.index(after: eq)...])
        let value: Entry
        do {
            if let node = try Yams.compose(yaml: text) { value = try ConfigTree.convert(node, source: "--set") }
            else { value = Entry(value: .scalar(""), origin: "--set") }
        } catch { throw ConfigError("--set \(assignment): the value is not valid YAML") }
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

    public func int(_ path: String, _ def: Int, min: Int? = nil, max: Int? = nil) throws -> Int {
        guard let (s, origin) = try tree.scalar(path) else { return def }
        guard let v = Int(s) else { throw ConfigError("\(origin): \(path) = \(s): expected a whole number") }
        if let min, v < min { throw ConfigError("\(origin): \(path) = \(v): must be at least \(min)") }
        if let max, v > max { throw ConfigError("\(origin): \(path) = \(v): must be at most \(max)") }
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
            throw ConfigError("\(origin): \(path) = \(s): \(rule ?? "must be in (\(lo), \(hi))")")
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
