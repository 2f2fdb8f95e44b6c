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

    public static func render(layout: TableLayout, runs: [TableRun], paper: PaperNumbers?,
                              context: TableContext = TableContext()) -> String {
        let metric = layout.metrics.first ?? "finetune.top1"
        let rowKeys = distinct(runs, layout.rows)
        let colKeys = layout.columns.isEmpty ? [[]] : distinct(runs, layout.columns)
        let pivoted = !layout.columns.isEmpty
        let match = PaperMatch(layout: layout, paper: paper)
        let reference = referenceRow(layout: layout, rowKeys: rowKeys, context: context)
        let showAchieved = layout.rows.contains("mask.ratio") && runs.contains { $0.achievedRatio != nil }

        var header = layout.rows
        if showAchieved { header.append("ratio achieved") }
        for col in colKeys {
            let label = pivoted ? columnLabel(layout.columns, col) : ""
            header.append(pivoted ? label : metric)
            if let match { header.append(match.header(columns: layout.columns, values: col)) }
            if reference != nil { header.append("Δ vs ref" + (pivoted ? " " + label : "")) }
            if layout.avgdist {
                header.append("AvgDist px" + (pivoted ? " " + label : ""))
                header.append("AvgDist rel" + (pivoted ? " " + label : ""))
            }
            for m in layout.metrics.dropFirst() {
                header.append(m + (pivoted ? " " + label : ""))
                if let match, match.reports(m) { header.append(match.header(columns: layout.columns, values: col) + " " + m) }
            }
        }

        var body: [[QueryValue]] = []
        var claimCells: [ClaimVerdicts.Cell] = []
        var flagged = false
        for row in rowKeys {
            var cells = row.map { $0 ?? absentValue }
            let inRow = runs.filter { values($0, layout.rows) == row }
            if showAchieved { cells.append(achievedText(inRow, nominal: row[layout.rows.firstIndex(of: "mask.ratio")!])) }
            for col in colKeys {
                let inCellAny = inRow.filter { values($0, layout.columns) == col }
                let inCell = inCellAny.filter { $0.status == .done }
                cells.append(cell(inCell, metric))
                let settings = match?.settings(layout: layout, row: row, column: col, cell: inCellAny, all: runs) ?? [:]
                // The paper's number beside ours, † where it was not read in the paper.
                func appendPaper(_ match: PaperMatch, _ m: String) {
                    let found = match.lookup(metric: m, settings: settings)
                    flagged = flagged || !found.read
                    cells.append(found.read ? found.text : found.text + " †")
                }
                if let match { appendPaper(match, metric) }
                let seeds = seedValues(inCell, metric)
                if let reference {
                    if row == reference { cells.append("ref") } else {
                        let refRuns = runs.filter { $0.status == .done && values($0, layout.rows) == reference && values($0, layout.columns) == col }
                        let d = PairedDifference(seeds, seedValues(refRuns, metric))
                        cells.append(d.n == 0 ? empty : "\(d.text()) (\(d.n))")
                    }
                }
                if layout.avgdist {
                    cells.append(meanCell(inCell, "avgdist"))
                    cells.append(meanCell(inCell, "avgdist_rel"))
                }
                for m in layout.metrics.dropFirst() {
                    cells.append(cell(inCell, m))
                    if let match, match.reports(m) { appendPaper(match, m) }
                }
                claimCells.append(claimCell(layout: layout, row: row, column: col, pivoted: pivoted, match: match,
                                            settings: settings, seeds: seeds, done: inCell, any: inCellAny,
                                            geometry: context.maskGeometry, isReference: row == reference))
            }
            body.append(cells.map(QueryValue.text))
        }

        var out = preamble(layout: layout, metric: metric, match: match, paper: paper, context: context,
                           reference: reference, showAchieved: showAchieved, flagged: flagged)
        out += "\n" + QueryTable(columns: header, rows: body).render(.markdown) + "\n"
        let count = { (s: Set<RunStatus>) in runs.filter { s.contains($0.status) }.count }
        out += "runs: \(count([.done])) done, \(count([.failed])) failed, \(count([.pending, .running])) pending/running of \(runs.count)\n"
        if let kernels = kernelLine(runs) { out += kernels }
        if !context.maskGeometry.isEmpty { out += geometryTable(context.maskGeometry) }
        if !layout.claims.isEmpty {
            out += ClaimVerdicts.render(ClaimVerdicts.evaluate(layout.claims, cells: claimCells), metric: metric,
                                        heading: "Claims of this table's spec")
        }
        if let paper, let key = layout.paperKey {
            let claims = paper.claims(for: key)
            // The paper's claims are about pre-training settings: a random-init row
            // (`pretrain.epochs` 0 as a table axis) is a baseline, not a setting of the
            // paper's axes, and would otherwise stand in for the pre-trained cell it shares
            // its mask, head and target with.
            let comparable = claimCells.filter { $0.axes["pretrain.epochs"] != "0" }
            out += ClaimVerdicts.render(ClaimVerdicts.evaluate(claims, cells: comparable), metric: metric,
                                        extraLines: ClaimVerdicts.renderGeometry(claims, geometry: context.maskGeometry))
        }
        return out
    }

    /// What the table is: the protocol, how to read its cells, where the paper's numbers come
    /// from, and one line per axis mapped onto the paper's with the reason.
    static func preamble(layout: TableLayout, metric: String, match: PaperMatch?, paper: PaperNumbers?,
                         context: TableContext, reference: [String?]?, showAchieved: Bool, flagged: Bool) -> String {
        var out = "# \(layout.title)\n\n"
        if !context.protocolLines.isEmpty { out += context.protocolLines.map { "- " + $0 }.joined(separator: "\n") + "\n\n" }
        out += "\(metric): mean ± sample std over done runs (n = runs pooled, i.e. seeds); \(empty) = none done yet."
        if let reference {
            out += " Δ vs ref: against the reference row (\(reference.map { $0 ?? absentValue }.joined(separator: " / ")), the protocol's default), paired by seed: mean difference [95% interval, Student t] (n seeds in both)."
        }
        if showAchieved {
            out += " Ratio achieved: the fraction of the image the masks hide (ceil(ratio × N) of N mask patches, a k×k square, block-wise masks ending short), where it differs from mask.ratio; = where it does not."
        }
        if let match {
            out += "\nPaper column: \(match.reference), reported at the paper's scale (ImageNet-1K, full-size models): compare trends, not values; \(PaperNumbers.notReported) = the paper has no number for this setting."
            if let key = layout.paperKey, let v = paper?.verification[key] {
                out += " Read as: \(v.status)\(v.why.map { " (\($0))" } ?? "")."
            }
            if flagged { out += " † = not read in the paper or a faithful summary of it (verification: says so)." }
        }
        out += "\n"
        let mapped = layout.paperValues.keys.sorted().compactMap { axis -> String? in
            guard let map = layout.paperValues[axis], !map.isEmpty, match != nil else { return nil }
            let pairs = map.keys.sorted(by: { less($0, $1) }).map { "\($0) → \(map[$0]!)" }
            return "- \(axis) " + pairs.joined(separator: ", ") + (layout.paperWhy[axis].map { ": " + $0 } ?? "")
        }
        if !mapped.isEmpty { out += "\nSettings mapped to the paper's:\n" + mapped.joined(separator: "\n") + "\n" }
        return out
    }

    /// The row of the spec's base config, when the table has it.
    static func referenceRow(layout: TableLayout, rowKeys: [[String?]], context: TableContext) -> [String?]? {
        guard !context.reference.isEmpty, layout.rows.allSatisfy({ context.reference[$0] != nil }) else { return nil }
        let want = layout.rows.map { context.reference[$0] }
        return rowKeys.first { row in zip(row, want).allSatisfy { same($0, $1) } }
    }

    /// Which OpenBLAS kernels the done runs ran on, most runs first. The same config and
    /// seed give other numbers on another kernel (README, Determinism), so a table that mixes
    /// kernels says so: its seed pairs across kernels are not the same draw.
    static func kernelLine(_ runs: [TableRun]) -> String? {
        let done = runs.filter { $0.status == .done }
        // Runs from before kernels were recorded alone: nothing to say.
        guard done.contains(where: { $0.blasKernel != nil }) else { return nil }
        var counts: [String: Int] = [:]
        for r in done { counts[r.blasKernel ?? "not recorded", default: 0] += 1 }
        let listed = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        if counts.count == 1 { return "OpenBLAS kernel of the done runs: \(listed)\n" }
        return "OpenBLAS kernels of the done runs: \(listed); a run made again on another kernel differs in more than "
            + "the last digits (README, Determinism), so a seed pair across kernels may not be the same draw\n"
    }

    /// Seed → the metric, averaged over a cell's runs of that seed (runs without a seed axis
    /// cannot be paired and are left out).
    static func seedValues(_ runs: [TableRun], _ metric: String) -> [String: Double] {
        var bySeed: [String: [Double]] = [:]
        for r in runs {
            guard let seed = r.axes["seed"], let v = r.results[metric], v.isFinite else { continue }
            bySeed[seed, default: []].append(v)
        }
        return bySeed.mapValues { $0.reduce(0, +) / Double($0.count) }
    }

    static func achievedText(_ runs: [TableRun], nominal: String?) -> String {
        guard let a = runs.compactMap(\.achievedRatio).first else { return empty }
        let text = String(format: "%.3f", a)
        if let n = nominal.flatMap(NumberText.parse), abs(n - a) < 0.0005 { return "=" }
        return text
    }

    static func claimCell(layout: TableLayout, row: [String?], column: [String?], pivoted: Bool, match: PaperMatch?,
                          settings: [String: String?], seeds: [String: Double], done: [TableRun], any: [TableRun],
                          geometry: [MaskGeometryPoint], isReference: Bool) -> ClaimVerdicts.Cell {
        var paperSettings: [String: String] = [:]
        if let match {
            for (axis, field) in match.keys {
                if case .some(.some(let ours)) = settings[axis], let v = match.mapped(axis, ours) { paperSettings[field] = v }
            }
        }
        var axes: [String: String] = [:]
        for (axis, value) in settings { if let value { axes[axis] = value } }
        for (axis, value) in zip(layout.rows + layout.columns, row + column) { if let value { axes[axis] = value } }
        var label = row.map { $0 ?? absentValue }.joined(separator: " / ")
        if pivoted { label += " (\(columnLabel(layout.columns, column)))" }
        // AvgDist of the cell's mask setting: from the sampled masks when the spec draws
        // Figure 3(a) (known before any run), else measured by its runs.
        let avgdistRel = any.first.flatMap { geometryPoint($0, geometry)?.meanRel }
            ?? SampleStats(done.compactMap { $0.results["avgdist_rel"] }).mean
        var cell = ClaimVerdicts.Cell(label: label, paper: paperSettings, axes: axes, seeds: seeds,
                                      avgdistRel: avgdistRel, isReference: isReference)
        for m in layout.metrics.dropFirst() { cell.otherMetrics[m] = seedValues(done, m) }
        return cell
    }

    /// The Figure 3(a) point of a run's mask setting at the run's own image size (the
    /// smallest size drawn: the protocol's, not the 192-px cross-check).
    static func geometryPoint(_ run: TableRun, _ geometry: [MaskGeometryPoint]) -> MaskGeometryPoint? {
        guard let type = run.axes["mask.type"], let patch = run.axes["mask.patch"].flatMap(Int.init),
              let ratio = run.axes["mask.ratio"].flatMap(NumberText.parse) else { return nil }
        return geometry.filter { $0.type == type && $0.patch == patch && $0.ratio == ratio }.min { $0.imageSize < $1.imageSize }
    }

    /// Figure 3(a)'s numbers: AvgDist of every mask setting from sampled masks, at the
    /// protocol's size and at 192 px.
    static func geometryTable(_ geometry: [MaskGeometryPoint]) -> String {
        let sizes = Set(geometry.map(\.imageSize)).sorted()
        guard let small = sizes.first else { return "" }
        var rows: [[QueryValue]] = []
        let settings = geometry.filter { $0.imageSize == small }
        for p in settings {
            var cells = [p.type, "\(p.patch)", "\(p.patchAt192)", RatioText.shortest(p.ratio), String(format: "%.3f", p.achievedRatio)]
            for size in sizes {
                guard let q = geometry.first(where: { $0.imageSize == size && $0.type == p.type && $0.patchAt192 == p.patchAt192 && $0.ratio == p.ratio }) else {
                    cells += [empty, empty]; continue
                }
                cells.append(String(format: "%.2f ± %.3f", q.mean, q.standardError))
                cells.append(String(format: "%.4f", q.meanRel))
            }
            rows.append(cells.map(QueryValue.text))
        }
        var header = ["mask.type", "mask.patch", "patch at 192", "mask.ratio", "ratio achieved"]
        for size in sizes { header += ["AvgDist px at \(size)", "rel at \(size)"] }
        let samples = geometry.map(\.samples).min() ?? 0
        return "\nFigure 3(a) from the mask generators alone (no training): AvgDist of every mask setting above, mean ± standard error over \(samples)+ sampled masks (seeded), at the protocol's size and at 192 px with the masked patch scaled to the same mask grid; the paper's sweet spot is 10–20 px at 192 (0.052–0.104 relative).\n\n"
            + QueryTable(columns: header, rows: rows).render(.markdown) + "\n"
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
    let tableKey: String
    let numbers: PaperNumbers
    let keys: [(axis: String, field: String)]
    let valueMap: [String: [String: String]]
    let rows: [[String: String]]

    /// nil when there is nothing to compare with: no paper given, no table reference, an
    /// unknown table key, or no paper keys.
    init?(layout: TableLayout, paper: PaperNumbers?) {
        guard let paper, let reference = layout.paper, !layout.paperKeys.isEmpty else { return nil }
        let key = reference.firstIndex(of: ".").map { String(reference[reference.index(after: $0)...]) } ?? reference
        guard let rows = try? paper.rows(key) else { return nil }
        self.reference = reference; self.tableKey = key; self.numbers = paper
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

    /// The paper's number for the metric, "N/A" when no row matches (no analogue) or the
    /// matching row has none; `read` is false when `verification:` does not mark the number
    /// as read in the paper. The first matching row in file order wins.
    func lookup(metric: String, settings: [String: String?]) -> (text: String, read: Bool) {
        guard let row = rows.first(where: { row in
            keys.allSatisfy { key in
                guard let ours = settings[key.axis] else { return true }
                return TableRenderer.same(mapped(key.axis, ours), row[key.field])
            }
        }) else { return (PaperNumbers.notReported, true) }
        for field in PaperMatch.fields(metric) { if let v = row[field] { return (v, numbers.isRead(table: tableKey, row: row)) } }
        return (PaperNumbers.notReported, true)
    }

    /// Whether the paper's table has numbers for `metric` at all (MAE's has the linear
    /// probe beside fine-tuning; SimMIM's fine-tuning only): no column of N/A otherwise.
    func reports(_ metric: String) -> Bool {
        rows.contains { row in PaperMatch.fields(metric).contains { row[$0] != nil } }
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

enum RatioText {
    /// A ratio as the specs write it: "0.6", "0.11".
    static func shortest(_ r: Double) -> String {
        var s = String(format: "%.4f", r)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
