import Foundation
import Yams

/// A paper's reported numbers (paper/<name>.yaml): for each table key, a list of rows, each
/// a flat mapping of fields. Values are kept as the YAML text ("0.6", "82.6", "block-wise")
/// so they compare with config values without float round trips; a null (not reported,
/// diverged) is left out of the row, and `notReported` is how to show it.
public struct PaperNumbers: Sendable {
    public static let defaultDirectory = "paper"
    public static let notReported = "N/A"

    /// File stem: "simmim".
    public let name: String
    /// Keys holding a list of rows, in file order.
    public let tableKeys: [String]
    let tables: [String: [[String: String]]]

    /// Reads `<directory>/<name>.yaml`; `directory` is relative to the current directory
    /// unless absolute.
    public init(name: String, directory: String = PaperNumbers.defaultDirectory) throws {
        let path = (directory as NSString).appendingPathComponent(name + ".yaml")
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ResultsError("\(path): paper numbers not found (they are read from \(directory)/<paper>.yaml relative to the current directory)")
        }
        try self.init(name: name, yaml: text, source: path)
    }

    public init(name: String, yaml: String, source: String? = nil) throws {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw ResultsError("\(source ?? name): not valid YAML: \(error)")
        }
        guard let mapping = root?.mapping else {
            throw ResultsError("\(source ?? name): expected a mapping of table keys to lists of rows")
        }
        var keys: [String] = []
        var tables: [String: [[String: String]]] = [:]
        for (k, v) in mapping {
            guard let key = k.scalar?.string, let list = v.sequence else { continue }
            keys.append(key)
            tables[key] = list.compactMap { $0.mapping.map(PaperNumbers.row) }
        }
        self.name = name; self.tableKeys = keys; self.tables = tables
    }

    /// A paper table reference "<file>.<key>" (TableLayout.paper), loaded from `directory`.
    public static func load(reference: String, directory: String = PaperNumbers.defaultDirectory) throws -> (numbers: PaperNumbers, key: String) {
        guard let dot = reference.firstIndex(of: "."), dot != reference.startIndex, reference.index(after: dot) != reference.endIndex else {
            throw ResultsError("paper reference '\(reference)': expected <paper>.<table key>, e.g. simmim.table1_masking")
        }
        let numbers = try PaperNumbers(name: String(reference[..<dot]), directory: directory)
        let key = String(reference[reference.index(after: dot)...])
        _ = try numbers.rows(key)
        return (numbers, key)
    }

    /// The rows of a table key; scalar fields only, nulls left out.
    public func rows(_ key: String) throws -> [[String: String]] {
        guard let rows = tables[key] else {
            throw ResultsError("paper \(name): no table '\(key)' (tables: \(tableKeys.joined(separator: ", ")))")
        }
        return rows
    }

    static func row(_ mapping: Node.Mapping) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in mapping {
            guard let key = k.scalar?.string, let scalar = v.scalar, NSNull.construct(from: scalar) == nil else { continue }
            out[key] = scalar.string
        }
        return out
    }
}
