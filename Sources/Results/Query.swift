import Foundation
import GRDB

// `mimlab query`: filter runs on config axes, group them, aggregate one result over each
// group. Everything the user types reaches SQLite as a bound parameter (axis paths too, as
// JSON paths), so no input can change the shape of the SQL.

/// A config axis (a key path in the canonical config JSON) or a column of `runs`.
public struct QueryAxis: Equatable, Hashable, Sendable {
    public enum Kind: Equatable, Hashable, Sendable {
        case config(path: String)
        case status, sweep, id
    }
    /// As the user wrote it: the output column's name.
    public let name: String
    public let kind: Kind

    /// The column names of the `run_axes` view, accepted as short names for their key paths.
    public static let aliases: [String: String] = [
        "method": "method", "encoder": "encoder.preset", "mask_type": "mask.type", "mask_patch": "mask.patch",
        "mask_ratio": "mask.ratio", "head": "head.type", "target": "target.type",
        "pred_resolution": "target.pred_resolution", "loss_on": "target.loss_on",
        "pretrain_epochs": "pretrain.epochs", "seed": "seed",
    ]

    static let pathPattern = try! NSRegularExpression(pattern: "^[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)*$")

    public init(parsing name: String) throws {
        self.name = name
        switch name {
        case "status": kind = .status
        case "sweep": kind = .sweep
        case "id": kind = .id
        default:
            let path = QueryAxis.aliases[name] ?? name
            let range = NSRange(path.startIndex..., in: path)
            guard QueryAxis.pathPattern.firstMatch(in: path, range: range) != nil else {
                throw ResultsError("invalid axis '\(name)': expected a config key path such as mask.type or mask.patch (lower-case letters, digits, _ and .), an alias (\(QueryAxis.aliases.keys.sorted().joined(separator: ", "))), status, sweep or id")
            }
            kind = .config(path: path)
        }
    }

    /// The JSON path bound for json_extract.
    var jsonPath: String? {
        if case .config(let path) = kind { return "$." + path }
        return nil
    }
}

/// One `--where` condition: `axis=value`, `axis=v1,v2` (any of), `axis!=v1,v2` (none of;
/// runs without the key count as different), `axis<value`, `<=`, `>`, `>=`.
public struct QueryFilter: Equatable, Sendable {
    public enum Op: String, CaseIterable, Sendable {
        case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    }
    public let axis: QueryAxis
    public let op: Op
    public let values: [String]

    public init(axis: QueryAxis, op: Op, values: [String]) throws {
        guard !values.isEmpty, !values.contains(where: \.isEmpty) else {
            throw ResultsError("filter on '\(axis.name)': empty value (write e.g. \(axis.name)\(op.rawValue)8)")
        }
        if values.count > 1 && !(op == .eq || op == .ne) {
            throw ResultsError("filter on '\(axis.name)': '\(op.rawValue)' takes one value, not a list (lists go with = and !=)")
        }
        switch axis.kind {
        case .status:
            if let bad = values.first(where: { RunStatus(rawValue: $0) == nil }) {
                throw ResultsError("filter on status: unknown status '\(bad)' (valid: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            fallthrough
        case .sweep, .id:
            guard op == .eq || op == .ne else {
                throw ResultsError("filter on \(axis.name): only = and != apply (got '\(op.rawValue)')")
            }
        case .config: break
        }
        self.axis = axis; self.op = op; self.values = values
    }

    /// Parses `axis<op>value[,value…]`, e.g. `mask.patch=4,8`, `mask.ratio>=0.5`, `status!=done`.
    public init(parsing text: String) throws {
        let axisChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard let opStart = text.firstIndex(where: { !axisChars.contains($0) }), opStart > text.startIndex else {
            throw ResultsError("invalid filter '\(text)': expected axis<op>value with op one of = != < <= > >= (e.g. mask.patch=4,8 or mask.ratio>=0.5)")
        }
        let rest = text[opStart...]
        // Longest operator first, so "<=" is not read as "<" followed by "=…".
        guard let op = Op.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count })
            .first(where: { rest.hasPrefix($0.rawValue) }) else {
            throw ResultsError("invalid filter '\(text)': expected axis<op>value with op one of = != < <= > >= (e.g. mask.patch=4,8 or mask.ratio>=0.5)")
        }
        let axis = try QueryAxis(parsing: String(text[..<opStart]))
        let valueText = rest.dropFirst(op.rawValue.count)
        let values = valueText.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        try self.init(axis: axis, op: op, values: values)
    }
}

/// A value of an axis or of an output cell, as SQLite typed it.
public enum QueryValue: Equatable, Hashable, Sendable, Comparable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    init(_ dbValue: DatabaseValue) {
        switch dbValue.storage {
        case .null: self = .null
        case .int64(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .text(s)
        case .blob(let b): self = .text("x'" + b.map { String(format: "%02x", $0) }.joined() + "'")
        }
    }

    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// Numeric-aware order: null, then numbers by value, then text.
    public static func < (a: QueryValue, b: QueryValue) -> Bool {
        func rank(_ v: QueryValue) -> Int {
            switch v { case .null: return 0; case .int, .double: return 1; case .text: return 2 }
        }
        if rank(a) != rank(b) { return rank(a) < rank(b) }
        if let x = a.number, let y = b.number { return x < y }
        if case .text(let x) = a, case .text(let y) = b { return x < y }
        return false
    }

    /// As text for markdown and CSV (null → empty).
    public var text: String {
        switch self {
        case .null: return ""
        case .int(let i): return String(i)
        case .double(let d): return NumberText.compact(d)
        case .text(let s): return s
        }
    }

    var json: String {
        switch self {
        case .null: return "null"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? "\(d)" : "null"
        case .text(let s): return JSONText.quote(s)
        }
    }
}

/// Mean, sample standard deviation (n − 1; nil for n < 2), min and max of finite values.
public struct SampleStats: Equatable, Sendable {
    public let n: Int
    public let mean: Double?
    public let std: Double?
    public let min: Double?
    public let max: Double?

    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        n = v.count
        guard !v.isEmpty else { mean = nil; std = nil; min = nil; max = nil; return }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        std = v.count < 2 ? nil : (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        min = v.min(); max = v.max()
    }
}

/// One group of `RunQuery`'s answer.
public struct QueryGroup: Equatable, Sendable {
    /// One per group-by axis, in order.
    public let values: [QueryValue]
    /// Runs in the group, whatever their status.
    public let runs: Int
    /// Over the runs that have the metric (done runs).
    public let stats: SampleStats
}

public struct RunQuery: Sendable {
    public var filters: [QueryFilter]
    public var groupBy: [QueryAxis]
    public var metric: String

    public static let defaultMetric = "finetune.top1"

    public init(filters: [QueryFilter] = [], groupBy: [QueryAxis] = [], metric: String = RunQuery.defaultMetric) {
        self.filters = filters; self.groupBy = groupBy; self.metric = metric
    }

    /// From command-line text: `where` as `axis<op>value`, `groupBy` as axis names;
    /// `sweep` adds `sweep=NAME`.
    public init(where conditions: [String], groupBy: [String], metric: String = RunQuery.defaultMetric,
                sweep: String? = nil) throws {
        var filters = try conditions.map(QueryFilter.init(parsing:))
        if let sweep { filters.append(try QueryFilter(axis: QueryAxis(parsing: "sweep"), op: .eq, values: [sweep])) }
        self.init(filters: filters, groupBy: try groupBy.map(QueryAxis.init(parsing:)), metric: metric)
    }

    /// Runs the query on the database at `path`, opened read-only (a missing file is an error).
    public func groups(path: String) throws -> [QueryGroup] {
        let queue = try ReadOnlySQL.open(path: path)
        do {
            return try queue.read { db in try groups(db) }
        } catch let e as ResultsError { throw e } catch {
            throw ResultsError("\(path): \(ResultsStore.describe(error))")
        }
    }

    public func table(path: String) throws -> QueryTable { table(try groups(path: path)) }

    public func table(_ groups: [QueryGroup]) -> QueryTable {
        func num(_ d: Double?) -> QueryValue { d.map(QueryValue.double) ?? .null }
        return QueryTable(
            columns: groupBy.map(\.name) + ["runs", "n", "mean", "std", "min", "max"],
            rows: groups.map { g in
                g.values + [.int(Int64(g.runs)), .int(Int64(g.stats.n)),
                            num(g.stats.mean), num(g.stats.std), num(g.stats.min), num(g.stats.max)]
            })
    }

    func groups(_ db: Database) throws -> [QueryGroup] {
        try validate(db)
        var sql = "SELECT r.id"
        var args: [(any DatabaseValueConvertible)?] = []
        for (i, axis) in groupBy.enumerated() {
            switch axis.kind {
            case .config: sql += ", json_extract(r.config, ?) AS g\(i)"; args.append(axis.jsonPath)
            case .status: sql += ", r.status AS g\(i)"
            case .id: sql += ", r.id AS g\(i)"
            case .sweep: sql += ", s.sweep AS g\(i)"
            }
        }
        sql += ", m.value AS value FROM runs r"
        // A run in two sweeps counts in both groups when grouping by sweep.
        if groupBy.contains(where: { $0.kind == .sweep }) { sql += " JOIN run_sweeps s ON s.run_id = r.id" }
        sql += " LEFT JOIN results m ON m.run_id = r.id AND m.name = ?"
        args.append(metric)
        var conditions: [String] = []
        for f in filters {
            let (clause, clauseArgs) = RunQuery.clause(f)
            conditions.append(clause); args += clauseArgs
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY r.id"

        var buckets: [[QueryValue]: (runs: Int, values: [Double])] = [:]
        for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)) {
            let key = groupBy.indices.map { QueryValue(row["g\($0)"] as DatabaseValue) }
            var b = buckets[key] ?? (0, [])
            b.runs += 1
            let id = try row.checkedRunID("id", table: "runs")
            if let v = try row.checkedOptional("value", Double.self, table: "results", run: id) { b.values.append(v) }
            buckets[key] = b
        }
        return buckets.map { QueryGroup(values: $0.key, runs: $0.value.runs, stats: SampleStats($0.value.values)) }
            .sorted { $0.values.lexicographicallyPrecedes($1.values) }
    }

    /// Typos become errors naming what exists: an axis no run's config has, a metric no run recorded.
    func validate(_ db: Database) throws {
        let anyRuns = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM runs)") ?? false
        if anyRuns {
            for axis in groupBy + filters.map(\.axis) {
                guard let path = axis.jsonPath else { continue }
                let present = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM runs WHERE json_type(config, ?) IS NOT NULL)",
                                                arguments: [path]) ?? false
                if !present {
                    // json_tree quotes keys with "_"; axis keys never contain quotes.
                    let known = try String.fetchAll(db, sql: """
                        SELECT DISTINCT replace(substr(t.fullkey, 3), '"', '') FROM runs, json_tree(runs.config) t
                        WHERE t.type NOT IN ('object', 'array') ORDER BY 1
                        """)
                    throw ResultsError("unknown axis '\(axis.name)': no run's config has \(path.dropFirst(2)); axes present: \(known.joined(separator: ", ")) (also status, sweep, id)")
                }
            }
        }
        // A sweep name or an ordered comparison that can match nothing is a typo, not an empty answer.
        for f in filters {
            switch f.axis.kind {
            case .sweep where f.op == .eq:
                let known = try String.fetchAll(db, sql: "SELECT DISTINCT sweep FROM run_sweeps ORDER BY sweep")
                for v in f.values where !known.contains(v) {
                    throw ResultsError("unknown sweep '\(v)'; sweeps in the database: \(known.isEmpty ? "none yet" : known.joined(separator: ", "))")
                }
            case .config where [.lt, .le, .gt, .ge].contains(f.op):
                let types = Set(try String.fetchAll(db, sql: "SELECT DISTINCT json_type(config, ?) FROM runs WHERE json_type(config, ?) IS NOT NULL",
                                                    arguments: [f.axis.jsonPath, f.axis.jsonPath]))
                let wantsText = RunQuery.bindable(f.values[0]) is String
                if !types.isEmpty && wantsText && !types.contains("text") {
                    throw ResultsError("--where \(f.axis.name)\(f.op.rawValue)\(f.values[0]): \(f.axis.name) holds numbers; compare it with a number")
                }
                if !types.isEmpty && !wantsText && types == ["text"] {
                    throw ResultsError("--where \(f.axis.name)\(f.op.rawValue)\(f.values[0]): \(f.axis.name) holds text; compare it with text")
                }
            default: break
            }
        }
        // With no results at all (nothing done yet) any metric is plausible: groups show n = 0.
        let names = try String.fetchAll(db, sql: "SELECT DISTINCT name FROM results ORDER BY name")
        if !names.isEmpty && !names.contains(metric) {
            throw ResultsError("unknown metric '\(metric)'; results in the database: \(names.joined(separator: ", "))")
        }
    }

    static func clause(_ f: QueryFilter) -> (String, [(any DatabaseValueConvertible)?]) {
        let marks = f.values.map { _ in "?" }.joined(separator: ", ")
        switch f.axis.kind {
        case .status, .id:
            let column = f.axis.kind == .status ? "r.status" : "r.id"
            return ("\(column) \(f.op == .eq ? "IN" : "NOT IN") (\(marks))", f.values)
        case .sweep:
            return ("\(f.op == .eq ? "" : "NOT ")EXISTS (SELECT 1 FROM run_sweeps f WHERE f.run_id = r.id AND f.sweep IN (\(marks)))",
                    f.values)
        case .config:
            let path = f.axis.jsonPath
            let bound = f.values.map(RunQuery.bindable)
            switch f.op {
            case .eq:
                return ("json_extract(r.config, ?) IN (\(marks))", [path] + bound)
            case .ne:
                return ("(json_extract(r.config, ?) IS NULL OR json_extract(r.config, ?) NOT IN (\(marks)))",
                        [path, path] + bound)
            case .lt, .le, .gt, .ge:
                // SQLite orders every number before every text; compare like with like only.
                let types = bound[0] is String ? "'text'" : "'integer', 'real', 'true', 'false'"
                return ("(json_type(r.config, ?) IN (\(types)) AND json_extract(r.config, ?) \(f.op.rawValue) ?)",
                        [path, path, bound[0]])
            }
        }
    }

    /// A value that reads as a number is compared as one (8 matches 8 and 8.0); true/false
    /// as JSON booleans (which json_extract returns as 1/0); anything else as text.
    static func bindable(_ text: String) -> any DatabaseValueConvertible {
        if let d = NumberText.parse(text) {
            if let i = Int64(text) { return i }
            return d
        }
        if text == "true" { return 1 }
        if text == "false" { return 0 }
        return text
    }
}

public enum NumberText {
    static let numberPattern = try! NSRegularExpression(pattern: "^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$")

    /// A decimal number as written by a person (not "inf", "nan" or hex, which Double(_:) accepts).
    public static func parse(_ text: String) -> Double? {
        let range = NSRange(text.startIndex..., in: text)
        guard numberPattern.firstMatch(in: text, range: range) != nil else { return nil }
        return Double(text)
    }

    /// Six significant digits without exponent or trailing zeros: 43.2567, 0.0321, 123457.
    public static func compact(_ d: Double) -> String {
        guard d.isFinite else { return "" }
        if d == 0 { return "0" }
        let magnitude = Int(floor(log10(abs(d))))
        let decimals = Swift.min(12, Swift.max(0, 5 - magnitude))
        var s = String(format: "%.\(decimals)f", d)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s == "-0" ? "0" : s
    }
}

enum JSONText {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

public enum OutputFormat: String, CaseIterable, Sendable {
    case markdown, csv, json
}

/// Columns and rows, printable as a markdown table, CSV or JSON.
public struct QueryTable: Equatable, Sendable {
    public var columns: [String]
    public var rows: [[QueryValue]]

    public init(columns: [String], rows: [[QueryValue]]) { self.columns = columns; self.rows = rows }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .markdown: return markdown()
        case .csv: return csv()
        case .json: return json()
        }
    }

    /// Padded pipe table; number columns right-aligned.
    func markdown() -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r", with: " ")
                .replacingOccurrences(of: "\n", with: " ")
        }
        let header = columns.map(escape)
        let body = rows.map { $0.map { escape($0.text) } }
        let numeric = columns.indices.map { c in
            !rows.isEmpty && rows.allSatisfy { row in
                guard c < row.count else { return true }
                switch row[c] { case .text: return false; default: return true }
            }
        }
        let widths = columns.indices.map { c in
            max(3, ([header[c]] + body.map { c < $0.count ? $0[c] : "" }).map(\.count).max() ?? 3)
        }
        func line(_ cells: [String]) -> String {
            "| " + columns.indices.map { c in
                let s = c < cells.count ? cells[c] : ""
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return numeric[c] ? pad + s : s + pad
            }.joined(separator: " | ") + " |"
        }
        let rule = "|" + columns.indices.map { c in
            numeric[c] ? String(repeating: "-", count: widths[c] + 1) + ":" : String(repeating: "-", count: widths[c] + 2)
        }.joined(separator: "|") + "|"
        return ([line(header), rule] + body.map(line)).joined(separator: "\n") + "\n"
    }

    /// RFC 4180 quoting (fields with a comma, quote or line break are quoted, quotes doubled);
    /// lines end in LF.
    func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([columns] + rows.map { $0.map(\.text) }).map { $0.map(field).joined(separator: ",") }
            .joined(separator: "\n") + "\n"
    }

    /// An array of objects, one per row, keys sorted; one object per line.
    func json() -> String {
        guard !rows.isEmpty else { return "[]\n" }
        let objects = rows.map { row in
            // A repeated column name keeps its last value, as a JSON parser would.
            var fields: [String: String] = [:]
            for c in columns.indices where c < row.count { fields[columns[c]] = row[c].json }
            return "{" + fields.keys.sorted().map { JSONText.quote($0) + ": " + fields[$0]! }.joined(separator: ", ") + "}"
        }
        return "[\n  " + objects.joined(separator: ",\n  ") + "\n]\n"
    }
}
