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
    /// Axis → why its values map onto the paper's as `paperValues` says (one header line each).
    public var paperWhy: [String: String]
    /// Show AvgDist (pixels and relative) beside each row.
    public var avgdist: Bool
    /// Figures to draw from the same runs: "avgdist-vs-ratio" (Figure 3a), "top1-vs-avgdist" (Figure 3b).
    public var figures: [String]
    /// The spec's own claims (`table.claims`), tested like the paper's: each compares the
    /// cells whose axes match `a` with those matching `b`, paired by seed.
    public var claims: [SpecClaim]

    public init(name: String, title: String, paper: String? = nil, rows: [String], columns: [String] = [],
                metrics: [String] = ["finetune.top1"], paperKeys: [String: String] = [:],
                paperValues: [String: [String: String]] = [:], paperWhy: [String: String] = [:],
                avgdist: Bool = false, figures: [String] = [], claims: [SpecClaim] = []) {
        self.name = name; self.title = title; self.paper = paper; self.rows = rows; self.columns = columns
        self.metrics = metrics; self.paperKeys = paperKeys; self.paperValues = paperValues; self.paperWhy = paperWhy
        self.avgdist = avgdist; self.figures = figures; self.claims = claims
    }

    /// The paper table key of `paper` ("table1_masking" of "simmim.table1_masking").
    public var paperKey: String? {
        paper.map { p in p.firstIndex(of: ".").map { String(p[p.index(after: $0)...]) } ?? p }
    }

    public static let figureKinds = ["avgdist-vs-ratio", "top1-vs-avgdist"]
}

/// A claim a spec makes about its own cells, e.g. "pre-training beats random init":
/// side `a` (the cells whose axes hold every value of `a`, averaged per seed) against side
/// `b`, read as `relation` (better / as-good-as / alike) with the paper claims' rules.
public struct SpecClaim: Codable, Equatable, Sendable {
    public var id: String
    public var text: String
    public var a: [String: String]
    public var relation: String
    public var b: [String: String]
    /// The metric compared, one of the table's; nil: its first (the paper claims' metric).
    /// MAE's claims are often about the linear probe.
    public var metric: String?

    public static let relations = ["better", "as-good-as", "alike"]

    public init(id: String, text: String, a: [String: String], relation: String, b: [String: String], metric: String? = nil) {
        self.id = id; self.text = text; self.a = a; self.relation = relation; self.b = b; self.metric = metric
    }
}

/// One run of a sweep as the table renderer sees it.
public struct TableRun: Sendable {
    public var id: String
    /// Axis key path → the value as written in the canonical config JSON ("random", "8", "0.6").
    public var axes: [String: String]
    public var status: RunStatus
    /// Final results (empty unless done).
    public var results: [String: Double]
    /// The fraction of the image its masks actually hide (mean over masks), where the mask
    /// generator's rounding makes it differ from `mask.ratio`; nil when not computed.
    public var achievedRatio: Double?
    /// The OpenBLAS kernel the run ran on (`RunRecord.blasKernel`); nil when not recorded.
    public var blasKernel: String?

    public init(id: String, axes: [String: String], status: RunStatus, results: [String: Double],
                achievedRatio: Double? = nil, blasKernel: String? = nil) {
        self.id = id; self.axes = axes; self.status = status; self.results = results; self.achievedRatio = achievedRatio
        self.blasKernel = blasKernel
    }
}

/// What a table needs beyond its runs, computed by the caller from the spec (the Results
/// module knows no configs or mask generators).
public struct TableContext: Sendable {
    /// Lines under the title: the protocol the runs used, its budget against the paper's, and
    /// what its recipe leaves out.
    public var protocolLines: [String]
    /// The reference row: the spec's base config's value of each row axis. Every other row
    /// is compared with it, paired by seed.
    public var reference: [String: String]
    /// Figure 3(a) from the mask generators (no runs): one point per type × masked patch ×
    /// ratio × image size.
    public var maskGeometry: [MaskGeometryPoint]

    public init(protocolLines: [String] = [], reference: [String: String] = [:], maskGeometry: [MaskGeometryPoint] = []) {
        self.protocolLines = protocolLines; self.reference = reference; self.maskGeometry = maskGeometry
    }
}

/// AvgDist of one mask setting measured on sampled masks: mean and standard error over masks.
public struct MaskGeometryPoint: Equatable, Sendable {
    public var type: String
    /// Masked patch size in pixels at `imageSize`.
    public var patch: Int
    /// The masked patch at 192 px on the same mask grid (`patch` × 192 / imageSize): the
    /// paper's size where the protocol's grids are the paper's (48 px).
    public var patchAt192: Int
    public var ratio: Double
    public var imageSize: Int
    public var achievedRatio: Double
    public var mean: Double
    public var standardError: Double
    public var samples: Int

    public init(type: String, patch: Int, patchAt192: Int, ratio: Double, imageSize: Int, achievedRatio: Double,
                mean: Double, standardError: Double, samples: Int) {
        self.type = type; self.patch = patch; self.patchAt192 = patchAt192; self.ratio = ratio; self.imageSize = imageSize
        self.achievedRatio = achievedRatio; self.mean = mean; self.standardError = standardError; self.samples = samples
    }

    public var meanRel: Double { mean / Double(imageSize) }
    public var standardErrorRel: Double { standardError / Double(imageSize) }
}
