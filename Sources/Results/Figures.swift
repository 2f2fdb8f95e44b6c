import Foundation

/// SimMIM's Figure 3 redrawn from our runs, as standalone SVG with no dependency. Output is a
/// function of the input only (fixed "%.2f" coordinates, sorted series), so regenerated
/// figures diff cleanly.
public enum Figures {
    /// Draws a figure by its `TableLayout.figures` name; nil for an unknown name. Figure 3(a)
    /// comes from the context's sampled masks when it has them, else from the runs.
    /// `metric`: the top-1 that Figure 3(b) plots (the table's first metric).
    public static func render(kind: String, runs: [TableRun], context: TableContext = TableContext(),
                              metric: String = "finetune.top1") -> String? {
        switch kind {
        case "avgdist-vs-ratio":
            return context.maskGeometry.isEmpty ? avgDistVsRatio(runs: runs) : avgDistVsRatio(geometry: context.maskGeometry)
        case "top1-vs-avgdist": return top1VsAvgDist(runs: runs, metric: metric)
        default: return nil
        }
    }

    /// Figure 3(a) from the mask generators alone: relative AvgDist (AvgDist / image side)
    /// against mask ratio, one colour per type and masked patch (named by its size at 192 px on
    /// the same mask grid: the paper's size on the 48-px protocol), solid at the protocol's image size, dashed at 192 px; bars are
    /// ±1 standard error over the sampled masks; the paper's 10–20 px band is shaded.
    public static func avgDistVsRatio(geometry: [MaskGeometryPoint]) -> String {
        let title = "AvgDist vs mask ratio, from the mask generators (SimMIM Figure 3a)"
        guard !geometry.isEmpty else { return emptyFigure(title) }
        let sizes = Set(geometry.map(\.imageSize)).sorted(by: >)   // 192 last in the legend
        let protocolSize = sizes.last!
        func seriesKey(_ p: MaskGeometryPoint) -> String { "\(p.type) \(p.patchAt192)" }
        let keys = Set(geometry.map(seriesKey)).sorted(by: seriesOrder)
        let ys = geometry.flatMap { [$0.meanRel + $0.standardErrorRel, $0.meanRel - $0.standardErrorRel] }
        var plot = SVGPlot(title: title, xLabel: "mask ratio", yLabel: "AvgDist / image side",
                           xTicks: ticks(0, 1), yTicks: ticks(0, max(ys.max()!, ClaimVerdicts.ridgeBand.high)))
        plot.horizontalBand(ClaimVerdicts.ridgeBand.low, ClaimVerdicts.ridgeBand.high, label: "paper's 10–20 px at 192")
        for (i, key) in keys.enumerated() {
            let color = palette[i % palette.count]
            let first = geometry.first { seriesKey($0) == key }!
            plot.legend(i, "\(first.type) \(first.patchAt192)", color: color)
            for size in sizes {
                let points = geometry.filter { seriesKey($0) == key && $0.imageSize == size }.sorted { $0.ratio < $1.ratio }
                let svgPoints = points.map { SVGPoint(x: $0.ratio, y: $0.meanRel) }
                plot.polyline(svgPoints, color: color, dashed: size != protocolSize)
                for p in points {
                    let at = SVGPoint(x: p.ratio, y: p.meanRel)
                    plot.errorBar(at, low: p.meanRel - p.standardErrorRel, high: p.meanRel + p.standardErrorRel, color: color)
                    plot.marker(at, color: color, radius: size == protocolSize ? 3.5 : 2)
                }
            }
        }
        for (j, size) in sizes.reversed().enumerated() {
            plot.legendNote(keys.count + j, size == protocolSize ? "solid: \(size) px (protocol)" : "dashed: \(size) px")
        }
        plot.legendNote(keys.count + sizes.count, "patch: px at 192, same grid")
        plot.legendNote(keys.count + sizes.count + 1, "bars: ±1 s.e. over masks")
        return plot.svg()
    }

    /// Figure 3(a): AvgDist (px) against mask ratio, one line per masked patch size (per
    /// mask type and size when the runs mix types). Points average the done runs.
    public static func avgDistVsRatio(runs: [TableRun]) -> String {
        let done = runs.filter { $0.status == .done && $0.results["avgdist"]?.isFinite == true }
        let types = Set(done.map { $0.axes["mask.type"] })
        var buckets: [String: [Double: [Double]]] = [:]
        for r in done {
            guard let ratio = r.axes["mask.ratio"].flatMap(NumberText.parse), let y = r.results["avgdist"] else { continue }
            buckets[seriesName(r, withType: types.count > 1), default: [:]][ratio, default: []].append(y)
        }
        let title = "AvgDist vs mask ratio (SimMIM Figure 3a)"
        guard !buckets.isEmpty else { return emptyFigure(title) }
        let series = buckets.keys.sorted(by: seriesOrder).map { name in
            (name, buckets[name]!.keys.sorted().map { SVGPoint(x: $0, y: SampleStats(buckets[name]![$0]!).mean!) })
        }
        let all = series.flatMap(\.1)
        var plot = SVGPlot(title: title, xLabel: "mask ratio", yLabel: "AvgDist (px)",
                        xTicks: ticks(min(0, all.map(\.x).min()!), max(1, all.map(\.x).max()!)),
                        yTicks: ticks(0, all.map(\.y).max()!))
        for (i, (name, points)) in series.enumerated() {
            let color = palette[i % palette.count]
            plot.polyline(points, color: color)
            for p in points { plot.marker(p, color: color) }
            plot.legend(i, name, color: color)
        }
        return plot.svg()
    }

    /// Figure 3(b): fine-tuning top-1 against AvgDist (relative to the image side when every
    /// run has it, else pixels), one point per configuration (runs pooled over seeds) with
    /// the 95% interval of its mean (Student t) when there are several seeds, labelled by
    /// masked patch size and ratio; on the relative axis the paper's 10–20 px band is shaded.
    /// Runs without pre-training (`pretrain.epochs` 0 as a table axis) are left out: they saw
    /// no masks, so their AvgDist says nothing about them.
    public static func top1VsAvgDist(runs: [TableRun], metric: String = "finetune.top1") -> String {
        let done = runs.filter { $0.status == .done && $0.results[metric]?.isFinite == true && $0.axes["pretrain.epochs"] != "0" }
        let relative = !done.isEmpty && done.allSatisfy { $0.results["avgdist_rel"]?.isFinite == true }
        let xMetric = relative ? "avgdist_rel" : "avgdist"
        var groups: [[String: String]: [TableRun]] = [:]
        for r in done where r.results[xMetric]?.isFinite == true {
            groups[r.axes.filter { $0.key != "seed" }, default: []].append(r)
        }
        let what = metric == "linprobe.top1" ? "linear-probe top-1" : metric == "finetune.top1" ? "fine-tuning top-1" : metric
        let title = "\(what.prefix(1).uppercased() + what.dropFirst()) vs AvgDist (SimMIM Figure 3b)"
        guard !groups.isEmpty else { return emptyFigure(title) }
        let types = Set(done.map { $0.axes["mask.type"] })
        struct Entry { let series: String; let label: String; let key: String; let x: Double; let y: SampleStats }
        let entries = groups.map { axes, rs in
            Entry(series: seriesName(rs[0], withType: types.count > 1), label: pointLabel(axes),
                  key: axes.keys.sorted().map { "\($0)=\(axes[$0]!)" }.joined(separator: ","),
                  x: SampleStats(rs.compactMap { $0.results[xMetric] }).mean!,
                  y: SampleStats(rs.compactMap { $0.results[metric] }))
        }.sorted { ($0.x, $0.label, $0.key) < ($1.x, $1.label, $1.key) }
        let halfWidths = entries.map { e -> Double in
            guard let std = e.y.std, e.y.n > 1 else { return 0 }
            return StudentT.quantile(0.975, df: Double(e.y.n - 1)) * std / Double(e.y.n).squareRoot()
        }
        let lows = zip(entries, halfWidths).map { $0.y.mean! - $1 }, highs = zip(entries, halfWidths).map { $0.y.mean! + $1 }
        let xs = entries.map(\.x)
        let xHigh = relative ? max(xs.max()!, ClaimVerdicts.ridgeBand.high) : xs.max()!
        var plot = SVGPlot(title: title, xLabel: relative ? "AvgDist / image side" : "AvgDist (px)", yLabel: "\(what) (%)",
                        xTicks: ticks(min(0, xs.min()!), xHigh), yTicks: ticks(lows.min()!, highs.max()!))
        if relative { plot.verticalBand(ClaimVerdicts.ridgeBand.low, ClaimVerdicts.ridgeBand.high, label: "paper's 10–20 px at 192") }
        let names = Set(entries.map(\.series)).sorted(by: seriesOrder)
        for (i, name) in names.enumerated() { plot.legend(i, name, color: palette[i % palette.count]) }
        plot.legendNote(names.count, "bars: 95% CI of the mean")
        for (e, half) in zip(entries, halfWidths) {
            let color = palette[(names.firstIndex(of: e.series) ?? 0) % palette.count]
            let p = SVGPoint(x: e.x, y: e.y.mean!)
            if half > 0 { plot.errorBar(p, low: p.y - half, high: p.y + half, color: color) }
            plot.marker(p, color: color)
            plot.label(p, e.label)
        }
        return plot.svg()
    }

    // MARK: data helpers

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    static func seriesName(_ r: TableRun, withType: Bool) -> String {
        let patch = r.axes["mask.patch"].map { "patch \($0) px" } ?? "patch default"
        return withType ? "\(r.axes["mask.type"] ?? TableRenderer.absentValue) \(patch)" : patch
    }

    /// By mask type, then patch size numerically ("patch 4 px" before "patch 16 px").
    static func seriesOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [String] { s.split(separator: " ").map(String.init) }
        let x = parts(a), y = parts(b)
        for (p, q) in zip(x, y) where p != q { return TableRenderer.less(p, q) }
        return x.count < y.count
    }

    static func pointLabel(_ axes: [String: String]) -> String {
        var parts: [String] = []
        if let p = axes["mask.patch"] { parts.append("p\(p)") }
        if let r = axes["mask.ratio"] { parts.append("r\(r)") }
        if parts.isEmpty { parts = axes.keys.sorted().map { "\(TableRenderer.lastComponent($0))=\(axes[$0]!)" } }
        return parts.joined(separator: " ")
    }

    /// Round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi], about five of them.
    public static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        var lo = lo, hi = hi
        if hi - lo < 1e-12 { let pad = Swift.max(abs(lo) * 0.1, 1e-3); lo -= pad; hi += pad }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
        let first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    static func emptyFigure(_ title: String) -> String {
        var plot = SVGPlot(title: title, xLabel: "", yLabel: "", xTicks: [], yTicks: [])
        plot.note("no runs done yet")
        return plot.svg()
    }
}

struct SVGPoint { let x: Double; let y: Double }

/// A fixed-size chart: plot area, axes with ticks, legend on the right.
public struct SVGPlot {
    static let width = 720.0, height = 440.0
    static let left = 70.0, right = 560.0, top = 40.0, bottom = 380.0

    let title: String, xLabel: String, yLabel: String
    let xTicks: [Double], yTicks: [Double]
    var body: [String] = []

    init(title: String, xLabel: String, yLabel: String, xTicks: [Double], yTicks: [Double]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.xTicks = xTicks; self.yTicks = yTicks
    }

    func f(_ v: Double) -> String { String(format: "%.2f", v) }

    func px(_ x: Double) -> Double {
        guard let a = xTicks.first, let b = xTicks.last, b > a else { return SVGPlot.left }
        return SVGPlot.left + (x - a) / (b - a) * (SVGPlot.right - SVGPlot.left)
    }

    func py(_ y: Double) -> Double {
        guard let a = yTicks.first, let b = yTicks.last, b > a else { return SVGPlot.bottom }
        return SVGPlot.bottom - (y - a) / (b - a) * (SVGPlot.bottom - SVGPlot.top)
    }

    mutating func polyline(_ points: [SVGPoint], color: String, dashed: Bool = false) {
        let coords = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
        let dash = dashed ? " stroke-dasharray=\"5,3\"" : ""
        body.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dash) points=\"\(coords)\"/>")
    }

    mutating func marker(_ p: SVGPoint, color: String, radius: Double = 3.5) {
        body.append("<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(radius)\" fill=\"\(color)\"/>")
    }

    /// A shaded band across the plot between two x values (clipped to the plot area).
    mutating func verticalBand(_ x0: Double, _ x1: Double, label: String) {
        let a = Swift.max(SVGPlot.left, Swift.min(px(x0), SVGPlot.right)), b = Swift.max(SVGPlot.left, Swift.min(px(x1), SVGPlot.right))
        guard b > a else { return }
        body.insert("<rect x=\"\(f(a))\" y=\"\(f(SVGPlot.top))\" width=\"\(f(b - a))\" height=\"\(f(SVGPlot.bottom - SVGPlot.top))\" fill=\"#dddddd\" fill-opacity=\"0.6\"/>", at: 0)
        body.insert("<text x=\"\(f((a + b) / 2))\" y=\"\(f(SVGPlot.top + 12))\" text-anchor=\"middle\" font-size=\"10\">\(SVGPlot.escape(label))</text>", at: 1)
    }

    /// A shaded band across the plot between two y values (clipped to the plot area).
    mutating func horizontalBand(_ y0: Double, _ y1: Double, label: String) {
        let a = Swift.max(SVGPlot.top, Swift.min(py(y1), SVGPlot.bottom)), b = Swift.max(SVGPlot.top, Swift.min(py(y0), SVGPlot.bottom))
        guard b > a else { return }
        body.insert("<rect x=\"\(f(SVGPlot.left))\" y=\"\(f(a))\" width=\"\(f(SVGPlot.right - SVGPlot.left))\" height=\"\(f(b - a))\" fill=\"#dddddd\" fill-opacity=\"0.6\"/>", at: 0)
        body.insert("<text x=\"\(f(SVGPlot.right - 6))\" y=\"\(f(a + 12))\" text-anchor=\"end\" font-size=\"10\">\(SVGPlot.escape(label))</text>", at: 1)
    }

    mutating func errorBar(_ p: SVGPoint, _ std: Double, color: String) {
        errorBar(p, low: p.y - std, high: p.y + std, color: color)
    }

    mutating func errorBar(_ p: SVGPoint, low: Double, high: Double, color: String) {
        let x = f(px(p.x)), lo = py(low), hi = py(high)
        body.append("<line x1=\"\(x)\" y1=\"\(f(lo))\" x2=\"\(x)\" y2=\"\(f(hi))\" stroke=\"\(color)\" stroke-width=\"1\"/>")
        for y in [lo, hi] {
            body.append("<line x1=\"\(f(px(p.x) - 3))\" y1=\"\(f(y))\" x2=\"\(f(px(p.x) + 3))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"1\"/>")
        }
    }

    mutating func label(_ p: SVGPoint, _ text: String) {
        body.append("<text x=\"\(f(px(p.x) + 6))\" y=\"\(f(py(p.y) - 6))\" font-size=\"10\">\(SVGPlot.escape(text))</text>")
    }

    mutating func legend(_ index: Int, _ text: String, color: String) {
        let y = SVGPlot.top + 10 + Double(index) * 18
        body.append("<line x1=\"\(f(SVGPlot.right + 20))\" y1=\"\(f(y))\" x2=\"\(f(SVGPlot.right + 40))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
        body.append("<text x=\"\(f(SVGPlot.right + 46))\" y=\"\(f(y + 4))\">\(SVGPlot.escape(text))</text>")
    }

    /// A legend line with no colour swatch.
    mutating func legendNote(_ index: Int, _ text: String) {
        let y = SVGPlot.top + 10 + Double(index) * 18
        body.append("<text x=\"\(f(SVGPlot.right + 20))\" y=\"\(f(y + 4))\" font-size=\"10\">\(SVGPlot.escape(text))</text>")
    }

    mutating func note(_ text: String) {
        body.append("<text x=\"\(f(SVGPlot.width / 2))\" y=\"\(f(SVGPlot.height / 2))\" text-anchor=\"middle\" font-size=\"16\">\(SVGPlot.escape(text))</text>")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Tick labels with as many decimals as the tick spacing needs.
    public static func tickText(_ v: Double, step: Double) -> String {
        let decimals = step > 0 ? Swift.max(0, Int(ceil(-log10(step) - 1e-9))) : 0
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    func svg() -> String {
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(SVGPlot.width)) \(Int(SVGPlot.height))\" width=\"\(Int(SVGPlot.width))\" height=\"\(Int(SVGPlot.height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(f((SVGPlot.left + SVGPlot.right) / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(SVGPlot.escape(title))</text>",
        ]
        if !xTicks.isEmpty && !yTicks.isEmpty {
            out.append("<g stroke=\"black\" stroke-width=\"1\">")
            out.append("<line x1=\"\(f(SVGPlot.left))\" y1=\"\(f(SVGPlot.bottom))\" x2=\"\(f(SVGPlot.right))\" y2=\"\(f(SVGPlot.bottom))\"/>")
            out.append("<line x1=\"\(f(SVGPlot.left))\" y1=\"\(f(SVGPlot.top))\" x2=\"\(f(SVGPlot.left))\" y2=\"\(f(SVGPlot.bottom))\"/>")
            for t in xTicks { out.append("<line x1=\"\(f(px(t)))\" y1=\"\(f(SVGPlot.bottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(SVGPlot.bottom + 5))\"/>") }
            for t in yTicks { out.append("<line x1=\"\(f(SVGPlot.left - 5))\" y1=\"\(f(py(t)))\" x2=\"\(f(SVGPlot.left))\" y2=\"\(f(py(t)))\"/>") }
            out.append("</g>")
            let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1, yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
            for t in xTicks {
                out.append("<text x=\"\(f(px(t)))\" y=\"\(f(SVGPlot.bottom + 18))\" text-anchor=\"middle\">\(SVGPlot.tickText(t, step: xStep))</text>")
            }
            for t in yTicks {
                out.append("<text x=\"\(f(SVGPlot.left - 8))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(SVGPlot.tickText(t, step: yStep))</text>")
            }
            out.append("<text x=\"\(f((SVGPlot.left + SVGPlot.right) / 2))\" y=\"\(f(SVGPlot.bottom + 40))\" text-anchor=\"middle\">\(SVGPlot.escape(xLabel))</text>")
            let cy = f((SVGPlot.top + SVGPlot.bottom) / 2)
            out.append("<text x=\"18\" y=\"\(cy)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(cy))\">\(SVGPlot.escape(yLabel))</text>")
        }
        return (out + body + ["</svg>"]).joined(separator: "\n") + "\n"
    }
}
