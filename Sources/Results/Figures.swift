import Foundation

/// SimMIM's Figure 3 redrawn from our runs, as standalone SVG with no dependency. Output is a
/// function of the input only (fixed "%.2f" coordinates, sorted series), so regenerated
/// figures diff cleanly.
public enum Figures {
    /// Draws a figure by its `TableLayout.figures` name; nil for an unknown name.
    public static func render(kind: String, runs: [TableRun]) -> String? {
        switch kind {
        case "avgdist-vs-ratio": return avgDistVsRatio(runs: runs)
        case "top1-vs-avgdist": return top1VsAvgDist(runs: runs)
        default: return nil
        }
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
    /// run has it, else pixels), one point per configuration (runs pooled over seeds) with a
    /// ±1 std bar when there are several, labelled by masked patch size and ratio.
    public static func top1VsAvgDist(runs: [TableRun]) -> String {
        let done = runs.filter { $0.status == .done && $0.results["finetune.top1"]?.isFinite == true }
        let relative = !done.isEmpty && done.allSatisfy { $0.results["avgdist_rel"]?.isFinite == true }
        let xMetric = relative ? "avgdist_rel" : "avgdist"
        var groups: [[String: String]: [TableRun]] = [:]
        for r in done where r.results[xMetric]?.isFinite == true {
            groups[r.axes.filter { $0.key != "seed" }, default: []].append(r)
        }
        let title = "Fine-tuning top-1 vs AvgDist (SimMIM Figure 3b)"
        guard !groups.isEmpty else { return emptyFigure(title) }
        let types = Set(done.map { $0.axes["mask.type"] })
        struct Entry { let series: String; let label: String; let key: String; let x: Double; let y: SampleStats }
        let entries = groups.map { axes, rs in
            Entry(series: seriesName(rs[0], withType: types.count > 1), label: pointLabel(axes),
                  key: axes.keys.sorted().map { "\($0)=\(axes[$0]!)" }.joined(separator: ","),
                  x: SampleStats(rs.compactMap { $0.results[xMetric] }).mean!,
                  y: SampleStats(rs.compactMap { $0.results["finetune.top1"] }))
        }.sorted { ($0.x, $0.label, $0.key) < ($1.x, $1.label, $1.key) }
        let lows = entries.map { $0.y.mean! - ($0.y.std ?? 0) }, highs = entries.map { $0.y.mean! + ($0.y.std ?? 0) }
        let xs = entries.map(\.x)
        var plot = SVGPlot(title: title, xLabel: relative ? "AvgDist / image side" : "AvgDist (px)", yLabel: "fine-tuning top-1 (%)",
                        xTicks: ticks(min(0, xs.min()!), xs.max()!), yTicks: ticks(lows.min()!, highs.max()!))
        let names = Set(entries.map(\.series)).sorted(by: seriesOrder)
        for (i, name) in names.enumerated() { plot.legend(i, name, color: palette[i % palette.count]) }
        for e in entries {
            let color = palette[(names.firstIndex(of: e.series) ?? 0) % palette.count]
            let p = SVGPoint(x: e.x, y: e.y.mean!)
            if let std = e.y.std { plot.errorBar(p, std, color: color) }
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

    mutating func polyline(_ points: [SVGPoint], color: String) {
        let coords = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
        body.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(coords)\"/>")
    }

    mutating func marker(_ p: SVGPoint, color: String) {
        body.append("<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(color)\"/>")
    }

    mutating func errorBar(_ p: SVGPoint, _ std: Double, color: String) {
        let x = f(px(p.x)), lo = py(p.y - std), hi = py(p.y + std)
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
