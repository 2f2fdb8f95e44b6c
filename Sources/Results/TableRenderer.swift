import Foundation

/// Renders a sweep's runs as one of the paper's tables (markdown), beside the paper's numbers.
///
/// Rows: one per distinct combination of `layout.rows` values among the runs (any status, so
/// a row shows before its runs are done), sorted numeric-aware (absent key first, then
/// numbers by value, then text). Columns: pivoted on `layout.columns` values, sorted the same
/// way. Runs that differ only in other axes (seeds) are pooled into one cell. The output
/// depends only on the input: no dates, fixed number formats, stable order.
public enum TableRenderer {
    /// Shown for a config key the run's canonical config leaves out (the default applies).
    public static let absentValue = "default"
    /// A cell with no done run.
    public static let empty = "—"

    public static func render(layout: TableLayout, runs: [TableRun], paper: PaperNumbers?) -> String {
        let metric = layout.metrics.first ?? "finetune.top1"
        let rowKeys = distinct(runs, layout.rows)
        let colKeys = layout.columns.isEmpty ? [[]] : distinct(runs, layout.columns)
        let pivoted = !layout.columns.isEmpty
        let match = PaperMatch(layout: layout, paper: paper)

        var header = layout.rows
        for col in colKeys {
            let label = pivoted ? columnLabel(layout.columns, col) : ""
            header.append(pivoted ? label : metric)
            if let match { header.append(match.header(columns: layout.columns, values: col)) }
            if layout.avgdist {
                header.append("AvgDist px" + (pivoted ? " " + label : ""))
                header.append("AvgDist rel" + (pivoted ? " " + label : ""))
            }
            for m in layout.metrics.dropFirst() { header.append(m + (pivoted ? " " + label : "")) }
        }

        var body: [[QueryValue]] = []
        for row in rowKeys {
            var cells = row.map { $0 ?? absentValue }
            for col in colKeys {
                let inCell = runs.filter { $0.status == .done && values($0, layout.rows) == row && values($0, layout.columns) == col }
                cells.append(cell(inCell, metric))
                if let match {
                    let inCellAny = runs.filter { values($0, layout.rows) == row && values($0, layout.columns) == col }
                    cells.append(match.value(metric: metric, settings: match.settings(layout: layout, row: row, column: col,
                                                                                       cell: inCellAny, all: runs)))
                }
                if layout.avgdist {
                    cells.append(meanCell(inCell, "avgdist"))
                    cells.append(meanCell(inCell, "avgdist_rel"))
                }
                for m in layout.metrics.dropFirst() { cells.append(cell(inCell, m)) }
            }
            body.append(cells.map(QueryValue.text))
        }

        var out = "# \(layout.title)\n\n"
        out += "\(metric): mean ± sample std over done runs (n = runs pooled, i.e. seeds); \(empty) = none done yet."
        if let match {
            out += " Paper column: \(match.reference), reported at the paper's scale (ImageNet-1K, full-size models): compare trends, not values; \(PaperNumbers.notReported) = not reported."
        }
        out += "\n"
        let mapped = layout.paperValues.keys.sorted().compactMap { axis -> String? in
            guard let map = layout.paperValues[axis], !map.isEmpty, match != nil else { return nil }
            let pairs = map.keys.sorted(by: { less($0, $1) }).map { "\($0) → \(map[$0]!)" }
            return "\(axis) " + pairs.joined(separator: ", ")
        }
        if !mapped.isEmpty { out += "Settings mapped to the paper's: " + mapped.joined(separator: "; ") + ".\n" }
        out += "\n" + QueryTable(columns: header, rows: body).render(.markdown) + "\n"
        let count = { (s: Set<RunStatus>) in runs.filter { s.contains($0.status) }.count }
        out += "runs: \(count([.done])) done, \(count([.failed])) failed, \(count([.pending, .running])) pending/running of \(runs.count)\n"
        return out
    }

    // MARK: cells

    static func values(_ run: TableRun, _ axes: [String]) -> [String?] { axes.map { run.axes[$0] } }

    static func distinct(_ runs: [TableRun], _ axes: [String]) -> [[String?]] {
        var seen = Set<[String?]>()
        return runs.map { values($0, axes) }.filter { seen.insert($0).inserted }
            .sorted { a, b in
                for (x, y) in zip(a, b) where x != y { return less(x, y) }
                return false
            }
    }

    static func columnLabel(_ axes: [String], _ values: [String?]) -> String {
        zip(axes, values).map { "\(lastComponent($0))=\($1 ?? absentValue)" }.joined(separator: ", ")
    }

    static func lastComponent(_ path: String) -> String { String(path.split(separator: ".").last ?? Substring(path)) }

    /// "mean ± std (n)", "mean (1)" or "—", in the metric's fixed format.
    static func cell(_ runs: [TableRun], _ metric: String) -> String {
        let s = SampleStats(runs.compactMap { $0.results[metric] })
        guard let mean = s.mean else { return empty }
        let f = format(metric)
        if let std = s.std { return "\(String(format: f, mean)) ± \(String(format: f, std)) (\(s.n))" }
        return "\(String(format: f, mean)) (\(s.n))"
    }

    static func meanCell(_ runs: [TableRun], _ metric: String) -> String {
        guard let mean = SampleStats(runs.compactMap { $0.results[metric] }).mean else { return empty }
        return String(format: format(metric), mean)
    }

    /// Fixed decimals per metric: accuracies in percent to 0.1, AvgDist in pixels to 0.01.
    static func format(_ metric: String) -> String {
        if metric.hasSuffix("top1") || metric.hasSuffix("top5") { return "%.1f" }
        if metric.hasSuffix("avgdist_rel") { return "%.3f" }
        if metric.hasSuffix("seconds") { return "%.0f" }
        if metric.hasSuffix("loss") { return "%.4f" }
        if metric.hasSuffix("gflop") { return "%.1f" }
        return "%.2f"
    }

    /// Numeric-aware order of axis values: absent first, then numbers by value, then text.
    static func less(_ a: String?, _ b: String?) -> Bool {
        guard let a else { return b != nil }
        guard let b else { return false }
        switch (NumberText.parse(a), NumberText.parse(b)) {
        case let (x?, y?): return x != y ? x < y : a < b
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }

    /// Same setting: equal text, or equal numbers ("0.6" = "0.60", "32" = "32.0"), or both absent.
    static func same(_ a: String?, _ b: String?) -> Bool {
        if a == b { return true }
        guard let a, let b, let x = NumberText.parse(a), let y = NumberText.parse(b) else { return false }
        return x == y
    }
}

/// Finds the paper's row for a table cell: our axis values, mapped through
/// `layout.paperValues`, must equal the paper row's `layout.paperKeys` fields.
struct PaperMatch {
    let reference: String
    let keys: [(axis: String, field: String)]
    let valueMap: [String: [String: String]]
    let rows: [[String: String]]

    /// nil when there is nothing to compare with: no paper given, no table reference, an
    /// unknown table key, or no paper keys.
    init?(layout: TableLayout, paper: PaperNumbers?) {
        guard let paper, let reference = layout.paper, !layout.paperKeys.isEmpty else { return nil }
        let key = reference.firstIndex(of: ".").map { String(reference[reference.index(after: $0)...]) } ?? reference
        guard let rows = try? paper.rows(key) else { return nil }
        self.reference = reference
        self.keys = layout.paperKeys.keys.sorted().map { ($0, layout.paperKeys[$0]!) }
        self.valueMap = layout.paperValues; self.rows = rows
    }

    /// Our setting of each paper key for one cell: row and column axes from the table; any
    /// other axis (e.g. mask.type when every run masks at random) from the cell's runs, else
    /// all runs, when they agree on one value — otherwise that key is not compared.
    func settings(layout: TableLayout, row: [String?], column: [String?], cell: [TableRun], all: [TableRun]) -> [String: String?] {
        var out: [String: String?] = [:]
        for (axis, value) in zip(layout.rows + layout.columns, row + column) { out[axis] = .some(value) }
        for (axis, _) in keys where out[axis] == nil {
            for runs in [cell, all] where !runs.isEmpty {
                let seen = Set(runs.map { $0.axes[axis] })
                if seen.count == 1 { out[axis] = .some(seen.first!); break }
            }
        }
        return out
    }

    func mapped(_ axis: String, _ value: String?) -> String? {
        guard let value, let map = valueMap[axis] else { return value }
        if let exact = map[value] { return exact }
        return map.keys.sorted().first { TableRenderer.same($0, value) }.map { map[$0]! } ?? value
    }

    /// "paper", or "paper (192)" naming the paper's setting of a pivot column.
    func header(columns: [String], values: [String?]) -> String {
        let parts = zip(columns, values).compactMap { axis, value -> String? in
            guard keys.contains(where: { $0.axis == axis }) else { return nil }
            return mapped(axis, value) ?? PaperNumbers.notReported
        }
        return parts.isEmpty ? "paper" : "paper (\(parts.joined(separator: ", ")))"
    }

    /// The paper's number for the metric: "N/A" when the matching row has none, "" when no
    /// row matches. The first matching row in file order wins.
    func value(metric: String, settings: [String: String?]) -> String {
        guard let row = rows.first(where: { row in
            keys.allSatisfy { key in
                guard let ours = settings[key.axis] else { return true }
                return TableRenderer.same(mapped(key.axis, ours), row[key.field])
            }
        }) else { return "" }
        for field in PaperMatch.fields(metric) { if let v = row[field] { return v } }
        return PaperNumbers.notReported
    }

    /// Where each paper keeps a metric: SimMIM "top1", MAE "ft"/"lin", SimMIM Table 5 "finetune_top1".
    static func fields(_ metric: String) -> [String] {
        let own = metric.replacingOccurrences(of: ".", with: "_")
        switch metric {
        case "finetune.top1": return [own, "top1", "ft"]
        case "linprobe.top1": return [own, "linear_top1", "lin"]
        default: return [own]
        }
    }
}
