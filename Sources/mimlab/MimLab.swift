import ArgumentParser
import Foundation

@main
struct MimLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mimlab",
        abstract: "Ablation studies of masked image modeling (SimMIM, MAE, MaskAlign) on the CPU.",
        discussion: """
        Pre-trains a ViT or Swin encoder written in Swift on OpenBLAS, fine-tunes and linear-probes it, and \
        records every run so that the papers' tables can be regenerated from real runs.
        """,
        subcommands: [
            // Subcommands: one file each in Sources/mimlab; keep this list sorted.
            AvgDistCommand.self,
            BenchCommand.self,
            CompareCommand.self,
            FolderCommand.self,
            QueryCommand.self,
            ResultsCommand.self,
            RunCommand.self,
            SQLCommand.self,
            StepCommand.self,
            SweepCommand.self,
            TablesCommand.self,
        ]
    )
}
