import Foundation
import NN
import Results
import Train

/// A sweep spec (`experiments/*.yaml`): a base config, grids of axis values, seeds,
/// excludes, and how the results are laid out as a paper's table.
///
///     name: table1-masking
///     base: tiny-default            # a run config beside the spec (".yaml" optional); omitted = defaults
///     set: {pretrain.epochs: 4}     # overrides applied to every run
///     grids:                        # cartesian product within a grid, union across grids
///       - {mask.type: [random], mask.patch: [4, 8, 16], mask.ratio: [0.4, 0.6, 0.8]}
///       - {mask.type: [square], mask.patch: [8], mask.ratio: [0.11, 0.25, 0.44]}
///     seeds: [0, 1, 2]              # or a count: `seeds: 3` = 0, 1, 2
///     exclude: [{mask.patch: 16, mask.ratio: 0.8}]
///     table: {rows: [mask.type, mask.patch, mask.ratio], paper: simmim.table1_masking, …}
///
/// Everything is validated before any run starts: every error names the spec's file:line
/// and the valid values, and nothing touches the database.
public struct SweepSpec {
    public var name: String
    public var path: String
    public var basePath: String?
    public var runs: [PlannedRun]
    public var table: TableLayout?
    /// The axes the grids vary (in spec order), plus `seed` when there are several seeds.
    public var axes: [String]
    /// The base config with `set` applied and no grid: the protocol's default run, the
    /// reference row of the spec's table. nil when it is not a valid run by itself.
    public var reference: PlannedRun?

    /// Runs one spec may ask for (before excludes).
    public static let maxRuns = 10_000

    public static let topLevelKeys = ["name", "description", "base", "set", "grids", "seeds", "exclude", "table"]
    public static let tableKeys = ["name", "title", "paper", "rows", "columns", "metrics", "paper_keys",
                                   "paper_values", "paper_why", "avgdist", "figures", "claims"]

    /// Every config key a grid, `set` or `exclude` may name: `section.key` or a top-level key.
    public static let validAxes: [String] = {
        var out: [String] = []
        for (section, keys) in RunConfig.validKeys where !section.isEmpty { out += keys.map { "\(section).\($0)" } }
        out += ["method", "seed", "pretrained"]
        return out.sorted()
    }()

    public static func load(path: String) throws -> SweepSpec {
        let tree = try ConfigTree(file: path)
        return try SweepSpec(tree: tree, path: path)
    }

    /// Whether a YAML file in experiments/ is a sweep spec (it has `grids`) rather than a run
    /// config; a file that does not parse counts as a spec, so its error is reported.
    public static func isSweepSpec(path: String) -> Bool {
        guard let tree = try? ConfigTree(file: path), let top = tree.entry("") else { return true }
        guard case .map(let keys, _) = top.value else { return true }
        return keys["grids"] != nil
    }

    public static func parse(yaml: String, path: String) throws -> SweepSpec {
        try SweepSpec(tree: try ConfigTree(yaml: yaml, source: path), path: path)
    }

    init(tree: ConfigTree, path: String) throws {
        self.path = path
        // An empty spec would be one run of every default: almost surely a mistake, and an expensive one.
        guard case .map(let top, let order) = tree.entry("")!.value, !tree.isEmpty, !order.isEmpty else {
            throw ConfigError("\(path): empty spec (no keys); a spec needs at least grids, e.g. grids: [{mask.ratio: [0.4, 0.6]}]")
        }
        for key in order where !SweepSpec.topLevelKeys.contains(key) {
            throw ConfigError("\(top[key]!.origin): unknown key '\(key)'; valid keys in a sweep spec: \(SweepSpec.topLevelKeys.joined(separator: ", "))")
        }
        let fileStem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        name = try SweepSpec.scalar(top["name"], "name") ?? fileStem
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil else {
            throw ConfigError("\(top["name"]?.origin ?? path): name = \(name): use letters, digits, '.', '_' and '-' (it names files)")
        }

        // The base config every run starts from.
        var baseYAML = ""
        var baseSource = "<defaults>"
        if let base = top["base"] {
            let text = try SweepSpec.scalar(base, "base")!
            let dir = (path as NSString).deletingLastPathComponent
            var candidate = text.hasPrefix("/") ? text : (dir.isEmpty ? text : "\(dir)/\(text)")
            if (candidate as NSString).pathExtension.isEmpty { candidate += ".yaml" }
            guard let data = FileManager.default.contents(atPath: candidate) else {
                throw ConfigError("\(base.origin): base = \(text): no such config file (looked for \(candidate))")
            }
            baseYAML = String(decoding: data, as: UTF8.self)
            baseSource = candidate
            basePath = candidate
        }

        let overrides = try top["set"].map { try SweepSpec.flatten($0, prefix: "", what: "set") } ?? []
        let grids = try SweepSpec.grids(top["grids"], path: path)
        let seeds = try SweepSpec.seeds(top["seeds"])
        let excludes = try SweepSpec.excludes(top["exclude"], gridAxes: Set(grids.flatMap { $0.map(\.axis) }))

        var axes: [String] = []
        for g in grids { for a in g where !axes.contains(a.axis) { axes.append(a.axis) } }
        if (seeds?.count ?? 1) > 1 && !axes.contains("seed") { axes.append("seed") }
        self.axes = axes

        // Counted before expanding: a spec a person can run is thousands of runs, not millions.
        let cells = grids.reduce(0) { total, g in total + g.reduce(1) { min($0 * $1.values.count, SweepSpec.maxRuns + 1) } }
        let planned = max(cells, 1) * (seeds?.count ?? 1)
        if planned > SweepSpec.maxRuns {
            throw ConfigError("\(top["grids"]?.origin ?? path): grids × seeds give \(planned > SweepSpec.maxRuns * 1000 ? "more than \(SweepSpec.maxRuns * 1000)" : String(planned)) runs; a spec may ask for at most \(SweepSpec.maxRuns) (each run takes minutes)")
        }

        // Expand: every combination of every grid, for every seed, minus the excludes.
        var runs: [PlannedRun] = []
        var seen: Set<String> = []
        let combos = grids.isEmpty ? [[]] : grids.flatMap(SweepSpec.product)
        let kept = combos.filter { combo in
            !excludes.contains { ex in ex.allSatisfy { e in combo.contains { $0.axis == e.axis && SweepSpec.same($0.value, e.value) } } }
        }
        // Seed-major: a sweep stopped half-way has whole tables with fewer seeds, not half a table.
        for seed in seeds.map({ $0.map(Optional.some) }) ?? [nil] {
            for combo in kept {
                let tree = try ConfigTree(yaml: baseYAML, source: baseSource)
                for (axis, value) in overrides { try tree.set(axis, to: value) }
                for a in combo { try tree.set(a.axis, to: a.value) }
                if let seed { try tree.set("seed", to: seed) }
                let config: RunConfig
                do { config = try RunConfig(tree: tree) } catch let e as ConfigError {
                    throw ConfigError("\(e.description)\(combo.isEmpty ? "" : " (in the run " + combo.map { "\($0.axis)=\($0.text)" }.joined(separator: ", ") + ")")")
                }
                let run = PlannedRun(config: config)
                if seen.insert(run.id).inserted { runs.append(run) }
            }
        }
        self.runs = runs
        reference = try? {
            let tree = try ConfigTree(yaml: baseYAML, source: baseSource)
            for (axis, value) in overrides { try tree.set(axis, to: value) }
            return PlannedRun(config: try RunConfig(tree: tree))
        }()

        if let t = top["table"] {
            table = try SweepSpec.table(t, defaultName: name, gridAxes: axes)
        }
    }

    // MARK: sections

    struct AxisValue {
        var axis: String
        var value: ConfigTree.Entry
        var text: String { if case .scalar(let s) = value.value { return s } else { return "…" } }
    }

    static func scalar(_ e: ConfigTree.Entry?, _ field: String) throws -> String? {
        guard let e else { return nil }
        guard case .scalar(let s) = e.value else { throw ConfigError("\(e.origin): \(field) must be a single value") }
        return s
    }

    static func checkAxis(_ axis: String, at origin: String) throws {
        guard validAxes.contains(axis) else {
            let section = axis.split(separator: ".").first.map(String.init) ?? axis
            let near = validAxes.filter { $0.hasPrefix(section + ".") }
            throw ConfigError("\(origin): unknown axis '\(axis)'; valid axes: \((near.isEmpty ? validAxes : near).joined(separator: ", "))")
        }
    }

    /// `set:` as nested sections or dotted keys → (axis, value) pairs.
    static func flatten(_ e: ConfigTree.Entry, prefix: String, what: String) throws -> [(String, ConfigTree.Entry)] {
        guard case .map(let dict, let order) = e.value else {
            throw ConfigError("\(e.origin): \(what) must be a mapping of config keys to values, e.g. {pretrain.epochs: 4}")
        }
        var out: [(String, ConfigTree.Entry)] = []
        for key in order {
            let child = dict[key]!
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if case .map = child.value { out += try flatten(child, prefix: path, what: what); continue }
            try checkAxis(path, at: child.origin)
            out.append((path, child))
        }
        return out
    }

    static func grids(_ e: ConfigTree.Entry?, path: String) throws -> [[(axis: String, values: [ConfigTree.Entry])]] {
        guard let e else { return [] }
        let items: [ConfigTree.Entry]
        switch e.value {
        case .list(let l): items = l
        case .map: items = [e]    // a single grid written without the list
        case .scalar: throw ConfigError("\(e.origin): grids must be a list of grids, each a mapping axis: [values]")
        }
        if items.isEmpty { throw ConfigError("\(e.origin): grids is empty; give at least one grid, e.g. - {mask.ratio: [0.4, 0.6]}") }
        return try items.enumerated().map { (i, g) in
            guard case .map(let dict, let order) = g.value else {
                throw ConfigError("\(g.origin): grid \(i + 1) must be a mapping axis: [values], e.g. {mask.ratio: [0.4, 0.6]}")
            }
            if order.isEmpty { throw ConfigError("\(g.origin): grid \(i + 1) is empty; it needs at least one axis: [values]") }
            return try order.map { axis in
                let v = dict[axis]!
                try checkAxis(axis, at: v.origin)
                switch v.value {
                case .scalar: return (axis, [v])
                case .list(let values):
                    if values.isEmpty { throw ConfigError("\(v.origin): grid \(i + 1), axis \(axis) has no values; give at least one") }
                    for x in values {
                        guard case .scalar = x.value else { throw ConfigError("\(x.origin): \(axis): grid values must be single values") }
                    }
                    return (axis, values)
                case .map: throw ConfigError("\(v.origin): \(axis) must be a list of values, e.g. [0.4, 0.6]")
                }
            }
        }
    }

    static func product(_ grid: [(axis: String, values: [ConfigTree.Entry])]) -> [[AxisValue]] {
        var out: [[AxisValue]] = [[]]
        for (axis, values) in grid {
            out = out.flatMap { prefix in values.map { prefix + [AxisValue(axis: axis, value: $0)] } }
        }
        return out
    }

    static func seeds(_ e: ConfigTree.Entry?) throws -> [ConfigTree.Entry]? {
        guard let e else { return nil }
        switch e.value {
        case .scalar(let s):
            guard let n = Int(s), n >= 1, n <= 1000 else {
                throw ConfigError("\(e.origin): seeds = \(s): give a count (1 to 1000) or a list of seeds, e.g. [0, 1, 2]")
            }
            return (0..<n).map { ConfigTree.Entry(value: .scalar(String($0)), origin: e.origin) }
        case .list(let l):
            if l.isEmpty { throw ConfigError("\(e.origin): seeds is empty; give a count or a list, e.g. [0, 1, 2]") }
            for x in l {
                guard case .scalar(let s) = x.value, let v = Int(s), v >= 0 else {
                    throw ConfigError("\(x.origin): seeds: each seed must be a whole number >= 0")
                }
            }
            return l
        case .map: throw ConfigError("\(e.origin): seeds must be a count or a list of whole numbers")
        }
    }

    static func excludes(_ e: ConfigTree.Entry?, gridAxes: Set<String>) throws -> [[AxisValue]] {
        guard let e else { return [] }
        guard case .list(let l) = e.value else { throw ConfigError("\(e.origin): exclude must be a list of {axis: value} mappings") }
        return try l.map { item in
            let pairs = try flatten(item, prefix: "", what: "each exclude")
            for (axis, v) in pairs {
                guard case .scalar = v.value else {
                    throw ConfigError("\(v.origin): exclude: \(axis) must be a single value (one exclude per cell, e.g. - {\(axis): 0.8})")
                }
            }
            for (axis, v) in pairs where !gridAxes.contains(axis) {
                throw ConfigError("\(v.origin): exclude names \(axis), which no grid varies; grid axes: \(gridAxes.sorted().joined(separator: ", "))")
            }
            return pairs.map { AxisValue(axis: $0.0, value: $0.1) }
        }
    }

    /// Equal as numbers when both are numbers ("0.60" = "0.6"), else as text.
    static func same(_ a: ConfigTree.Entry, _ b: ConfigTree.Entry) -> Bool {
        guard case .scalar(let x) = a.value, case .scalar(let y) = b.value else { return false }
        if let u = Double(x), let v = Double(y) { return u == v }
        return x == y
    }

    static func table(_ e: ConfigTree.Entry, defaultName: String, gridAxes: [String]) throws -> TableLayout {
        guard case .map(let d, let order) = e.value else { throw ConfigError("\(e.origin): table must be a mapping") }
        for key in order where !tableKeys.contains(key) {
            throw ConfigError("\(d[key]!.origin): unknown key 'table.\(key)'; valid keys in table: \(tableKeys.joined(separator: ", "))")
        }
        func list(_ key: String) throws -> [String]? {
            guard let v = d[key] else { return nil }
            switch v.value {
            case .scalar(let s): return [s]
            case .list(let l):
                return try l.map { x in
                    guard case .scalar(let s) = x.value else { throw ConfigError("\(x.origin): table.\(key) holds single values") }
                    return s
                }
            case .map: throw ConfigError("\(v.origin): table.\(key) must be a list")
            }
        }
        func axisList(_ key: String) throws -> [String] {
            let l = try list(key) ?? []
            for a in l { try checkAxis(a, at: d[key]!.origin) }
            return l
        }
        let rows = try axisList("rows")
        if rows.isEmpty { throw ConfigError("\(d["rows"]?.origin ?? e.origin): table.rows must name at least one axis, e.g. [mask.ratio]; grid axes: \(gridAxes.joined(separator: ", "))") }
        let columns = try axisList("columns")
        let metrics = try list("metrics") ?? ["finetune.top1"]
        let figures = try list("figures") ?? []
        for f in figures where !TableLayout.figureKinds.contains(f) {
            throw ConfigError("\(d["figures"]!.origin): table.figures: \(f) is not a figure; valid: \(TableLayout.figureKinds.joined(separator: ", "))")
        }
        var paper: String? = nil
        if let p = try scalar(d["paper"], "table.paper") {
            guard p.split(separator: ".").count == 2 else {
                throw ConfigError("\(d["paper"]!.origin): table.paper = \(p): write <paper>.<table>, e.g. simmim.table1_masking (paper/simmim.yaml)")
            }
            paper = p
        }
        var paperKeys: [String: String] = [:]
        if let pk = d["paper_keys"] {
            for (axis, v) in try flatten(pk, prefix: "", what: "table.paper_keys") {
                paperKeys[axis] = try scalar(v, "table.paper_keys.\(axis)")
            }
        }
        var paperValues: [String: [String: String]] = [:]
        if let pv = d["paper_values"] {
            guard case .map(let pd, let porder) = pv.value else { throw ConfigError("\(pv.origin): table.paper_values must map axis → {our value: paper value}") }
            for axis in porder {
                try checkAxis(axis, at: pd[axis]!.origin)
                guard case .map(let m, let morder) = pd[axis]!.value else {
                    throw ConfigError("\(pd[axis]!.origin): table.paper_values.\(axis) must map our value → paper value, e.g. {8: 32}")
                }
                var out: [String: String] = [:]
                for k in morder { out[canonicalText(k)] = try scalar(m[k], "table.paper_values.\(axis).\(k)") }
                paperValues[axis] = out
            }
        }
        var paperWhy: [String: String] = [:]
        if let pw = d["paper_why"] {
            for (axis, v) in try flatten(pw, prefix: "", what: "table.paper_why") {
                paperWhy[axis] = try scalar(v, "table.paper_why.\(axis)")
            }
        }
        var avgdist = false
        if let a = try scalar(d["avgdist"], "table.avgdist") {
            switch a.lowercased() {
            case "true", "yes": avgdist = true
            case "false", "no": avgdist = false
            default: throw ConfigError("\(d["avgdist"]!.origin): table.avgdist = \(a): expected true or false")
            }
        }
        let claims = try d["claims"].map { try specClaims($0, axes: rows + columns, metrics: metrics) } ?? []
        return TableLayout(name: try scalar(d["name"], "table.name") ?? defaultName,
                           title: try scalar(d["title"], "table.title") ?? defaultName,
                           paper: paper, rows: rows, columns: columns, metrics: metrics,
                           paperKeys: paperKeys, paperValues: paperValues, paperWhy: paperWhy,
                           avgdist: avgdist, figures: figures, claims: claims)
    }

    /// `table.claims`: a list of {id, text, a: {axis: value}, relation, b: {axis: value}},
    /// whose axes are the table's rows and columns, and optionally `metric`, one of the
    /// table's metrics (default: its first).
    static func specClaims(_ e: ConfigTree.Entry, axes: [String], metrics: [String]) throws -> [SpecClaim] {
        guard case .list(let items) = e.value else {
            throw ConfigError("\(e.origin): table.claims must be a list of {id, text, a, relation, b}")
        }
        let keys = ["id", "text", "a", "relation", "b", "metric"]
        return try items.map { item in
            guard case .map(let d, let order) = item.value else {
                throw ConfigError("\(item.origin): a table claim is a mapping {id, text, a, relation, b}")
            }
            for k in order where !keys.contains(k) {
                throw ConfigError("\(d[k]!.origin): unknown key 'table.claims.\(k)'; valid keys: \(keys.joined(separator: ", "))")
            }
            func need(_ k: String) throws -> String {
                guard let v = try scalar(d[k], "table.claims.\(k)") else {
                    throw ConfigError("\(item.origin): table claim needs '\(k)' (keys: \(keys.joined(separator: ", ")))")
                }
                return v
            }
            func side(_ k: String) throws -> [String: String] {
                guard let s = d[k] else { throw ConfigError("\(item.origin): table claim needs '\(k)', e.g. {pretrain.epochs: 0}") }
                var out: [String: String] = [:]
                for (axis, v) in try flatten(s, prefix: "", what: "table.claims.\(k)") {
                    guard axes.contains(axis) else {
                        throw ConfigError("\(v.origin): table.claims.\(k).\(axis): not a row or column of the table; valid: \(axes.joined(separator: ", "))")
                    }
                    out[axis] = canonicalText(try scalar(v, "table.claims.\(k).\(axis)") ?? "")
                }
                if out.isEmpty { throw ConfigError("\(s.origin): table.claims.\(k) must name at least one axis value") }
                return out
            }
            let relation = try need("relation")
            guard SpecClaim.relations.contains(relation) else {
                throw ConfigError("\(d["relation"]!.origin): table.claims.relation = \(relation); valid: \(SpecClaim.relations.joined(separator: ", "))")
            }
            let metric = try scalar(d["metric"], "table.claims.metric")
            if let metric, !metrics.contains(metric) {
                throw ConfigError("\(d["metric"]!.origin): table.claims.metric = \(metric): not a metric of the table; valid: \(metrics.joined(separator: ", "))")
            }
            return SpecClaim(id: try need("id"), text: try need("text"), a: try side("a"), relation: relation, b: try side("b"),
                             metric: metric == metrics.first ? nil : metric)
        }
    }

    /// The text an axis value is compared and shown by: numbers in their shortest form
    /// ("0.60" → "0.6", "8.0" → "8"), anything else as written.
    public static func canonicalText(_ s: String) -> String {
        if let i = Int(s) { return String(i) }
        if let d = Double(s), d.isFinite {
            if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
            return "\(d)"
        }
        return s
    }
}

/// One run a sweep asks for: its full config, canonical JSON and id.
public struct PlannedRun: Sendable {
    public var config: RunConfig
    public var canonicalJSON: String
    public var id: String

    public init(config: RunConfig) {
        self.config = config
        canonicalJSON = config.canonicalJSON()
        id = RunID.of(canonicalJSON: canonicalJSON)
    }
}

extension PlannedRun {
    /// The value of a config axis (`mask.patch`, `encoder.dim`, `target.pred_resolution`) as
    /// the tables show it; defaults filled (no `pred_resolution` = the full image size).
    public func axisText(_ axis: String) -> String? {
        PlannedRun.axisText(axis, canonicalJSON: canonicalJSON)
    }

    public static func axisText(_ axis: String, canonicalJSON: String) -> String? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(canonicalJSON.utf8)) as? [String: Any] else { return nil }
        var parts = axis.split(separator: ".").map(String.init)
        if parts.first == "encoder", parts.count == 2, !["preset", "position"].contains(parts[1]) {
            parts = ["encoder", "vit", parts[1] == "patch" ? "patch_size" : parts[1]]
        }
        var node: Any? = root
        for p in parts { node = (node as? [String: Any])?[p] }
        if node == nil, axis == "target.pred_resolution" { node = (root["data"] as? [String: Any])?["image_size"] }
        // Absent: SimMIM's ViT learns its position embedding; MAE's and MaskAlign's is fixed.
        if node == nil, axis == "encoder.position", (root["encoder"] as? [String: Any])?["swin"] == nil {
            node = (root["method"] as? String == "simmim" ? ViTOptions.Position.learned : .sinCos).configName
        }
        // Absent: the run pre-trains its own encoder (or none, at 0 epochs).
        if node == nil, axis == "pretrained" { return "none" }
        switch node {
        case let n as NSNumber:
            if axis == "data.flip" { return n.boolValue ? "true" : "false" }
            return SweepSpec.canonicalText(n.stringValue)
        case let s as String: return s
        default: return nil
        }
    }
}
