import Foundation

/// How a sweep's results are laid out as one of the paper's tables (a spec's `table:`
/// section, parsed and validated by the Sweep module).
public struct TableLayout: Codable, Equatable, Sendable {
    /// Output name: `results/tables/<name>.md`.
    public var name: String
    public var title: String
    /// Which paper table it mirrors: "<paper file>.<key>", e.g. "simmim.table1_masking"
    /// (paper/simmim.yaml, key table1_masking); nil for none.
    public var paper: String?
    /// Axes (config key paths such as "mask.type") that make the rows, in order.
    public var rows: [String]
    /// Axes pivoted into columns (e.g. ["target.pred_resolution"] for Table 3); may be empty.
    public var columns: [String]
    /// Metrics shown; the first is the one compared with the paper (e.g. "finetune.top1").
    public var metrics: [String]
    /// Axis → the paper row's field holding the same setting (e.g. "mask.type" → "mask_type").
    public var paperKeys: [String: String]
    /// Axis → (our value → the paper's value) where the tiny protocol's geometry maps onto
    /// the paper's (e.g. mask.patch 8 on 32 px ↔ 32 on 192 px).
    public var paperValues: [String: [String: String]]
    /// Show AvgDist (pixels and relative) beside each row.
    public var avgdist: Bool
    /// Figures to draw from the same runs: "avgdist-vs-ratio" (Figure 3a), "top1-vs-avgdist" (Figure 3b).
    public var figures: [String]

    public init(name: String, title: String, paper: String? = nil, rows: [String], columns: [String] = [],
                metrics: [String] = ["finetune.top1"], paperKeys: [String: String] = [:],
                paperValues: [String: [String: String]] = [:], avgdist: Bool = false, figures: [String] = []) {
        self.name = name; self.title = title; self.paper = paper; self.rows = rows; self.columns = columns
        self.metrics = metrics; self.paperKeys = paperKeys; self.paperValues = paperValues
        self.avgdist = avgdist; self.figures = figures
    }

    public static let figureKinds = ["avgdist-vs-ratio", "top1-vs-avgdist"]
}

/// One run of a sweep as the table renderer sees it.
public struct TableRun: Sendable {
    public var id: String
    /// Axis key path → the value as written in the canonical config JSON ("random", "8", "0.6").
    public var axes: [String: String]
    public var status: RunStatus
    /// Final results (empty unless done).
    public var results: [String: Double]

    public init(id: String, axes: [String: String], status: RunStatus, results: [String: Double]) {
        self.id = id; self.axes = axes; self.status = status; self.results = results
    }
}
