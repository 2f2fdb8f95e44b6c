import ArgumentParser
import Foundation
import NN
import Tensor
import Train

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Run one oracle case (SimMIM, MAE or MaskAlign): forward/backward, AdamW steps, fine-tune forward/backward.",
        discussion: """
        Reads a case file in the layout of shared/oracle (weights, images, mask and labels in a \
        .safetensors file; model and optimiser settings in its metadata) and writes every \
        quantity the float64 PyTorch reference writes, under the same names: output.loss, \
        output.pred, output.grad_norm, grad.*, act.*, step1.* / stepN.*, output.step_losses, \
        ft.logits, ft.loss, ft.grad.*. MAE cases (format mae-oracle-v1, mae_ref.py) carry the \
        masking noise; their outputs add output.target, output.loss_per_patch, output.mask \
        and output.ids_restore / output.ids_keep. MaskAlign cases (maskalign-oracle-v1, \
        scripts/oracle/maskalign_ref.py) carry the teacher under teacher.* and the sampling \
        noise; their outputs are output.loss, output.ids_keep, output.importance, \
        output.teacher_attention, grad.*, step3.*, output.step_losses.

        Check the result against a reference with `mimlab compare --ref REF --test OUT`, or with \
        the oracle's own `simmim_ref.py compare`.
        """)

    @Option(help: "Input case (.safetensors), e.g. shared/oracle/cases/case_small.safetensors.")
    var `case`: String

    @Option(help: "Where to write the outputs (.safetensors, written atomically).")
    var out: String

    @Flag(help: "Skip the AdamW steps.")
    var noSteps = false

    @Flag(help: "Skip the fine-tune forward/backward.")
    var noFinetune = false

    @Option(help: "Threads for the matrix products and kernels (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads { Parallel.threads = threads }
        let result = try OracleRun.run(path: `case`, steps: !noSteps, finetune: !noFinetune)
        try result.write(to: out)
        let outputs = result.tensors
        let loss = outputs["output.loss"]![0], gn = outputs["output.grad_norm"]![0]
        var line = "wrote \(out): \(outputs.count + result.integers.count) tensors; loss=\(String(format: "%.8f", loss)) grad_norm=\(String(format: "%.6f", gn))"
        if let ft = outputs["ft.loss"] { line += " ft.loss=\(String(format: "%.6f", ft[0]))" }
        print(line)
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two output files tensor by tensor (as the oracle's compare).",
        discussion: """
        Per tensor: max|test − ref|, rel_err = max|test − ref| / max(max|ref|, atol) and cosine; \
        a tensor passes when rel_err ≤ rtol. Default rtol: 1e-3 for step* tensors, 1e-4 for the \
        rest (the oracle README's tolerances for float32 against float64); against an MAE \
        reference, the mask and ids exactly and step*.attn.qkv.bias at 1e-2 (README 7.4). \
        Exits 1 on any failure.
        """)

    @Option(help: "Reference outputs (ideally computed in float64).")
    var ref: String

    @Option(help: "Outputs to check, same tensor names.")
    var test: String

    @Option(help: "Use this rtol for every tensor instead of the defaults.")
    var rtol: Double?

    @Option(help: "Floor for max|ref| in the relative error.")
    var atol: Double = 1e-6

    @Option(help: "Only tensors whose name starts with this.")
    var prefix: String?

    @Flag(name: .shortAndLong, help: "List every tensor, not just failures.")
    var verbose = false

    func run() throws {
        let r: SafetensorsFile, t: SafetensorsFile
        r = try SafetensorsFile(contentsOf: ref); t = try SafetensorsFile(contentsOf: test)
        let rows = Compare.run(reference: r.tensors, test: t.tensors, atol: atol, prefix: prefix,
                               rtol: rtol.map { v in { _ in v } } ?? Compare.tolerance(forFormat: r.metadata["format"]))
        let shown = rows.filter { verbose || !$0.passed }
        let w = max(10, shown.map(\.name.count).max() ?? 0)
        if !shown.isEmpty {
            print("\("tensor".padding(toLength: w, withPad: " ", startingAt: 0))  status   max_abs_diff   rel_err    rtol     cosine")
            for c in shown {
                print("\(c.name.padding(toLength: w, withPad: " ", startingAt: 0))  \(c.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(String(format: "%12.3e  %9.2e  %7.0e  %.8f", c.maxAbsDiff, c.relErr, c.rtol, c.cosine))")
            }
        }
        let bad = rows.filter { !$0.passed }.count
        let worst = rows.filter(\.passed).max { $0.relErr / $0.rtol < $1.relErr / $1.rtol }
        print("\(rows.count - bad) ok, \(bad) failed (of \(rows.count) reference tensors)"
              + (worst.map { "; worst rel_err \(String(format: "%.2e", $0.relErr)) in \($0.name)" } ?? ""))
        if bad > 0 { throw ExitCode(1) }
    }
}
