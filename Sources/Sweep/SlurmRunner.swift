import Foundation
import Results

/// `sweep run --backend slurm` from start to end: merge what came back, submit what is
/// missing as one job array, follow the queue merging shards as they land, and submit
/// again (up to `resubmit` rounds) runs whose task the scheduler ended after it saved
/// progress. The caller only shows what happens (`Event`).
extension SlurmSweep {
    public enum Event {
        case merged(count: Int)
        case badShard(file: String, reason: String)
        case submitted(Submitted)
        case nothingToSubmit
        case detached
        case resubmitting(count: Int, round: Int, of: Int)
        /// The first progress of a wait, then each poll.
        case progress(Progress, firstOfRound: Bool)
        case followed
        case noResult(Unfinished)
    }

    /// Returns the runs that ended without a result (empty when every task left one).
    public func runToEnd(_ o: SubmitOptions, detach: Bool, resubmit: Int, poll: TimeInterval,
                         report: (Event) -> Void) throws -> [Unfinished] {
        var reported = Set<String>()
        func show(_ r: MergeReport) {
            if !r.merged.isEmpty { report(.merged(count: r.merged.count)) }
            for p in r.failed where reported.insert(p.file).inserted { report(.badShard(file: "\(shardsDir)/\(p.file)", reason: p.reason)) }
        }
        show(try merge())
        func submit(only: Set<String>?) throws {
            if let s = try submitMissing(o, only: only) { report(.submitted(s)) } else if only == nil { report(.nothingToSubmit) }
        }
        try submit(only: nil)
        if detach { report(.detached); return [] }

        var unfinished: [Unfinished] = []
        for round in 0...resubmit {
            if round > 0 {
                let again = unfinished.filter(\.resubmittable)
                report(.resubmitting(count: again.count, round: round, of: resubmit))
                try submit(only: Set(again.map(\.run.id)))
            }
            var first = true
            try follow(pollInterval: poll) { p, r in
                show(r)
                report(.progress(p, firstOfRound: first))
                first = false
            }
            report(.followed)
            unfinished = try self.unfinished()
            for u in unfinished { report(.noResult(u)) }
            if !unfinished.contains(where: \.resubmittable) { break }
        }
        return unfinished
    }
}
