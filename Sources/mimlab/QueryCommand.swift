import ArgumentParser
import Foundation
import Results

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Filter, group and aggregate runs of the results database.",
        discussion: """
        Picks runs by config axes, groups them and aggregates one final result over each group: runs (in the group, any status), n (runs with the result, i.e. done), mean, std (sample, n − 1; empty for n = 1), min and max. The database is opened read-only.

        An axis is a key path of the run's canonical config (mask.type, mask.patch, target.pred_resolution, encoder.vit.patch_size, seed, …), a column name of the run_axes view (mask_type, mask_patch, mask_ratio, pred_resolution, head, target, loss_on, encoder, method, pretrain_epochs, seed), or status, sweep, id.

        --where takes axis<op>value with op = != < <= > >=; a comma list after = or != means any of / none of (a run without the key counts as different from every value). A value that reads as a number is compared as a number (8 matches 8.0); other values as text.

        Rows are sorted by the group values (numbers by value). Unknown axes and metrics are errors that list what the database holds.

        Examples:
          mimlab query --group-by mask.type mask.patch mask.ratio
          mimlab query --where mask.patch=4,8 --group-by mask.patch
          mimlab query --where mask.type=random --metric linprobe.top1
          mimlab query --where 'mask.ratio>=0.5' --group-by mask_ratio --format csv
          mimlab query --sweep table1-masking --group-by status --format json
        """)

    @Option(help: "Results database.")
    var db = ResultsStore.defaultPath

    @Option(name: .customLong("where"), help: "Filter axis<op>value, e.g. mask.patch=4,8 or mask.ratio>=0.5 (repeatable; all must hold).")
    var conditions: [String] = []

    @Option(parsing: .upToNextOption, help: "Axes to group by, e.g. --group-by mask.type mask.patch (default: one group).")
    var groupBy: [String] = []

    @Option(help: "Final result to aggregate (e.g. finetune.top1, linprobe.top1, avgdist, pretrain.seconds).")
    var metric = RunQuery.defaultMetric

    @Option(help: "Output format: markdown, csv or json.")
    var format = "markdown"

    @Option(help: "Only runs of this sweep (same as --where sweep=NAME).")
    var sweep: String?

    func run() throws {
        guard let output = OutputFormat(rawValue: format) else {
            throw CLIError("--format: unknown format '\(format)' (valid: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let query = try RunQuery(where: conditions, groupBy: groupBy, metric: metric, sweep: sweep)
        print(try query.table(path: db).render(output), terminator: "")
    }
}
