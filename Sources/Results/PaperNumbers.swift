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
    /// Keys holding a mapping (a plotted figure, defaults, …): valid references with no rows.
    let mappingKeys: Set<String>
    /// `verification:`, per table key: where its numbers were read.
    public let verification: [String: PaperVerification]
    /// `claims:`: the paper's conclusions, in file order.
    public let claims: [PaperClaim]

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
        var mappingKeys: Set<String> = []
        var verification: [String: PaperVerification] = [:]
        var claims: [PaperClaim] = []
        for (k, v) in mapping {
            guard let key = k.scalar?.string else { continue }
            if key == "claims", let list = v.sequence {
                claims = list.compactMap { $0.mapping.map(PaperNumbers.row) }.compactMap { row in
                    row["id"].map { PaperClaim(id: $0, table: row["table"], text: row["text"] ?? "") }
                }
                continue
            }
            if key == "verification", let m = v.mapping {
                for (tk, tv) in m {
                    guard let table = tk.scalar?.string, let fields = tv.mapping.map(PaperNumbers.row) else { continue }
                    verification[table] = PaperVerification(status: fields["verified"] ?? "unknown",
                                                            why: fields["why"] ?? fields["note"])
                }
                continue
            }
            if v.mapping != nil { mappingKeys.insert(key); continue }
            guard let list = v.sequence else { continue }
            keys.append(key)
            tables[key] = list.compactMap { $0.mapping.map(PaperNumbers.row) }
        }
        self.name = name; self.tableKeys = keys; self.tables = tables; self.mappingKeys = mappingKeys
        self.verification = verification; self.claims = claims
    }

    /// The claims a table key tests (`claims:` entries whose `table` is that key).
    public func claims(for key: String) -> [PaperClaim] { claims.filter { $0.table == key } }

    /// Whether a paper number was read in the paper or a faithful summary of it: not when its
    /// row says `verified: false`, nor when its table's `verification:` entry is missing,
    /// false or partial. A summary that reproduces the table counts as read.
    public func isRead(table key: String, row: [String: String]) -> Bool {
        if let v = row["verified"], PaperVerification.unread.contains(v.lowercased()) { return false }
        guard let status = verification[key]?.status.lowercased() else { return false }
        return !PaperVerification.unread.contains(status)
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
        if mappingKeys.contains(key) { return [] }
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

/// One `verification:` entry: how a paper table's numbers were read ("true", "summary",
/// "partial", "false") and why.
public struct PaperVerification: Equatable, Sendable {
    public let status: String
    public let why: String?
    /// Statuses under which a number is not taken as read in the paper.
    static let unread: Set<String> = ["false", "partial", "unknown", "no"]
}

/// One of a paper's conclusions (`claims:`), tested by a table's verdict lines.
public struct PaperClaim: Equatable, Sendable {
    public let id: String
    /// The paper table key it rests on (e.g. "table3_resolution").
    public let table: String?
    public let text: String

    public init(id: String, table: String?, text: String) { self.id = id; self.table = table; self.text = text }
}
