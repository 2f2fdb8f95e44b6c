import Foundation
import MIM
import Results
import Tensor
import Train

/// What `mimlab tables` hands the renderer for one spec: its runs (axes, status, results,
/// achieved mask ratio) and the context the Results module cannot compute itself (the
/// protocol's description, the reference row, Figure 3(a) from the mask generators).
/// Everything here is a function of the spec, the database and fixed seeds, so the same
/// database regenerates byte-identical files.
public enum TableInputs {
    /// Masks sampled per Figure 3(a) point and per block-wise achieved ratio.
    public static let maskSamples = 400
    /// The paper's image side: Figure 3(a) is drawn at the protocol's size and at this one.
    public static let paperImageSize = 192
    /// Seed of the sampled masks (each point draws from its own named stream of it).
    public static let maskSeed: UInt64 = 0

    /// The spec's runs with the axes the table and figures read.
    public static func runs(_ spec: SweepSpec, layout: TableLayout, store: ResultsStore) throws -> [TableRun] {
        let plan = try SweepPlan.make(spec, store: store)
        let results = try store.results(ids: spec.runs.map(\.id))
        let axes = Array(Set(layout.rows + layout.columns + ["mask.type", "mask.patch", "mask.ratio", "seed"]))
        var achieved = AchievedRatios()
        return try plan.entries.map { e in
            var values: [String: String] = [:]
            for a in axes { values[a] = e.run.axisText(a) }
            let status: RunStatus
            switch e.state {
            case .new, .pending: status = .pending
            case .running, .stale: status = .running
            case .done: status = .done
            case .failed: status = .failed
            }
            return TableRun(id: e.run.id, axes: values, status: status,
                            results: status == .done ? results[e.run.id] ?? [:] : [:],
                            achievedRatio: try achieved.of(e.run.config.maskSpec),
                            blasKernel: status == .done ? e.record?.blasKernel : nil)
        }
    }

    /// `maskGeometry: false` skips Figure 3(a)'s sampled masks (seconds per spec).
    public static func context(_ spec: SweepSpec, layout: TableLayout, maskGeometry drawGeometry: Bool = true) throws -> TableContext {
        var context = TableContext()
        let seeds = Set(spec.runs.map(\.config.seed)).count
        if let reference = spec.reference {
            context.protocolLines = ProtocolSummary.lines(reference.config, seeds: seeds, varied: Set(spec.axes))
            for axis in layout.rows + layout.columns { context.reference[axis] = reference.axisText(axis) }
        }
        if drawGeometry && layout.figures.contains("avgdist-vs-ratio") { context.maskGeometry = try maskGeometry(spec) }
        return context
    }

    /// Figure 3(a) without training: every mask type × masked patch × ratio the spec's runs
    /// use, sampled at their image size and at 192 px with the masked patch scaled to the
    /// same mask grid.
    public static func maskGeometry(_ spec: SweepSpec) throws -> [MaskGeometryPoint] {
        var seen = Set<String>()
        var specs: [MaskSpec] = []
        for run in spec.runs {
            let m = run.config.maskSpec
            if seen.insert("\(m.type.rawValue)|\(m.imageSize)|\(m.modelPatchSize)|\(m.maskedPatchSize)|\(m.maskRatio)").inserted { specs.append(m) }
        }
        specs.sort { ($0.type.rawValue, $0.maskedPatchSize, $0.maskRatio, $0.imageSize) < ($1.type.rawValue, $1.maskedPatchSize, $1.maskRatio, $1.imageSize) }
        var out: [MaskGeometryPoint] = []
        for m in specs {
            let sizes = m.imageSize == paperImageSize || paperImageSize % m.imageSize != 0 ? [m.imageSize] : [m.imageSize, paperImageSize]
            for size in sizes {
                let scale = size / m.imageSize
                let s = MaskSpec(type: m.type, imageSize: size, modelPatchSize: m.modelPatchSize * scale,
                                 maskedPatchSize: m.maskedPatchSize * scale, maskRatio: m.maskRatio)
                var rng = PRNG(seed: maskSeed).fork("figure3a/\(s.type.rawValue)/\(s.imageSize)/\(s.maskedPatchSize)/\(s.maskRatio)")
                let stats = try AvgDist.estimate(s, samples: maskSamples, rng: &rng)
                guard stats.defined > 0 else { continue }
                out.append(MaskGeometryPoint(
                    type: s.type.rawValue, patch: s.maskedPatchSize, patchAt192: m.maskedPatchSize * paperImageSize / m.imageSize,
                    ratio: s.maskRatio, imageSize: size, achievedRatio: stats.actualRatio, mean: stats.mean,
                    standardError: stats.std / Double(stats.defined).squareRoot(), samples: stats.defined))
            }
        }
        return out
    }
}

/// Achieved mask ratios, computed once per mask geometry.
struct AchievedRatios {
    private var cache: [String: Double] = [:]

    mutating func of(_ spec: MaskSpec) throws -> Double {
        let key = "\(spec.type.rawValue)|\(spec.imageSize)|\(spec.modelPatchSize)|\(spec.maskedPatchSize)|\(spec.maskRatio)"
        if let v = cache[key] { return v }
        var rng = PRNG(seed: TableInputs.maskSeed).fork("achieved/\(key)")
        let v = try AchievedRatio.of(spec, samples: TableInputs.maskSamples, rng: &rng)
        cache[key] = v
        return v
    }
}
