import CBLAS
import Foundation

/// Which OpenBLAS kernel family runs, and who chose it.
///
/// OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels once, when the library is
/// loaded, from its own table of CPU models. A CPU newer than the library falls through to
/// a generic kernel: Debian's 0.3.21 runs `Prescott` (SSE3) on recent Xeons that have
/// AVX-512, at a third of the speed. `OPENBLAS_CORETYPE` overrides the table, but only when
/// it is in the environment before the library loads, which is before `main`. So the
/// command line calls `launch()` first: when OpenBLAS's choice is weaker than what the CPU's
/// features support, it re-executes the same binary with `OPENBLAS_CORETYPE` set to the best
/// kernel those features allow. A user's own `OPENBLAS_CORETYPE` always wins.
public enum BLASKernel {
    /// Who decided the kernel in use.
    public enum Origin: String, Codable, Sendable {
        /// OpenBLAS's own detection, which mimlab found as good as the features allow.
        case openblas
        /// mimlab set `OPENBLAS_CORETYPE` because OpenBLAS's choice was weaker.
        case mimlab
        /// `OPENBLAS_CORETYPE` was in the user's environment.
        case user
    }

    /// Kernel families by the instructions they use; a higher rank is faster on a CPU that
    /// has them. Names are OpenBLAS's `openblas_get_corename()` spellings.
    static let ranks: [String: Int] = [
        "prescott": 1, "core2": 2, "penryn": 2, "dunnington": 2, "atom": 1, "nehalem": 3, "barcelona": 2,
        "bulldozer": 4, "piledriver": 4, "steamroller": 4, "excavator": 4, "sandybridge": 4,
        "haswell": 5, "zen": 5, "skylakex": 6, "cooperlake": 7, "sapphirerapids": 8,
    ]

    static func rank(_ corename: String) -> Int { ranks[corename.lowercased()] ?? 0 }

    /// The best kernel family for these features, or nil when nothing beats what any
    /// OpenBLAS picks on its own (SSE-only or unknown processors).
    public static func best(for cpu: CPUFeatures) -> String? {
        if cpu.hasAVX512BF16 { return "Cooperlake" }
        if cpu.hasAVX512 { return "SkylakeX" }
        if cpu.hasAVX2FMA { return cpu.vendor == .amd ? "Zen" : "Haswell" }
        return nil
    }

    public enum Decision: Equatable, Sendable {
        /// Run what is loaded.
        case keep(Origin)
        /// Re-execute with `OPENBLAS_CORETYPE` = this kernel.
        case switchTo(String)
        /// Re-execute without `OPENBLAS_CORETYPE` (a kernel mimlab chose on another machine
        /// does not fit this one, and nothing better than OpenBLAS's own choice is known).
        case unset
    }

    /// The decision at launch. `loaded`: the kernel OpenBLAS runs now; `environment`:
    /// `OPENBLAS_CORETYPE` and mimlab's marker `MIMLAB_OPENBLAS_CHOSEN` (the value mimlab set,
    /// so that child processes, and Slurm tasks on other nodes, know it was not the user's).
    public static func decide(cpu: CPUFeatures?, loaded: String, environment env: [String: String]) -> Decision {
        let pinned = env["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : $0 }
        let ours = env["MIMLAB_OPENBLAS_CHOSEN"]
        if let pinned, pinned != ours { return .keep(.user) }
        if env["MIMLAB_OPENBLAS_AUTO"] == "0" { return pinned == nil ? .keep(.openblas) : .keep(.mimlab) }
        let want = cpu.flatMap(best(for:))
        if let pinned {
            // Inherited from a mimlab parent, perhaps on another machine: valid only if this
            // CPU would get the same choice.
            if let want, want.lowercased() == pinned.lowercased() { return .keep(.mimlab) }
            return want.map { .switchTo($0) } ?? .unset
        }
        guard let want else { return .keep(.openblas) }
        let same = want.lowercased() == loaded.lowercased()
        // Zen and Haswell use the same instructions; on an Intel CPU prefer Intel's tuning
        // and the reverse, but an equal-rank choice is otherwise OpenBLAS's to make.
        if same || rank(loaded) > rank(want) { return .keep(.openblas) }
        if rank(loaded) == rank(want) && !(cpu!.vendor == .intel && loaded.lowercased() == "zen") {
            return .keep(.openblas)
        }
        return .switchTo(want)
    }

    /// What was decided at launch, for `mimlab bench`, a run's header and its host record.
    public struct Status: Codable, Equatable, Sendable {
        public var corename: String
        public var origin: Origin
        /// The kernel OpenBLAS picked by itself, when mimlab replaced it.
        public var replaced: String?
        /// The user's `OPENBLAS_CORETYPE`, kept to say so when OpenBLAS did not take it.
        public var requested: String?
        public var features: String

        public init(corename: String, origin: Origin, replaced: String?, requested: String?, features: String) {
            self.corename = corename; self.origin = origin; self.replaced = replaced
            self.requested = requested; self.features = features
        }

        public var description: String {
            switch origin {
            case .user:
                if let requested, requested.lowercased() != corename.lowercased() {
                    return "\(corename) (OPENBLAS_CORETYPE=\(requested) in your environment is not a kernel this OpenBLAS has; it runs \(corename))"
                }
                return "\(corename) (set by OPENBLAS_CORETYPE in your environment)"
            case .openblas: return "\(corename) (OpenBLAS's own choice; this CPU: \(features))"
            case .mimlab:
                return "\(corename) (chosen by mimlab for this CPU's \(features)"
                    + (replaced.map { "; OpenBLAS alone picked \($0))" } ?? ")")
            }
        }

        /// The short form stored with each run: kernel and who chose it.
        public var record: String { "\(corename) (\(origin.rawValue))" }
    }

    nonisolated(unsafe) private static var launchStatus: Status?

    /// The kernel in use and who chose it (decided without re-executing when `launch` was
    /// not called, e.g. in tests).
    public static var status: Status {
        if let launchStatus { return launchStatus }
        let s = currentStatus(replaced: nil)
        launchStatus = s
        return s
    }

    static func currentStatus(replaced: String?, cpu: CPUFeatures? = CPUFeatures.current()) -> Status {
        let env = ProcessInfo.processInfo.environment
        let origin: Origin
        switch decide(cpu: cpu, loaded: BLAS.corename, environment: env) {
        case .keep(let o): origin = o
        case .switchTo, .unset: origin = env["OPENBLAS_CORETYPE"] == nil ? .openblas : .user
        }
        return Status(corename: BLAS.corename, origin: origin,
                      replaced: origin == .mimlab ? replaced ?? env["MIMLAB_OPENBLAS_REPLACED"] : nil,
                      requested: origin == .user ? env["OPENBLAS_CORETYPE"] : nil,
                      features: cpu?.summary ?? "features unknown")
    }

    /// Call first thing in `main`. Either returns (the loaded kernel stays) or replaces the
    /// process with the same command under the better kernel; a re-executed process never
    /// re-executes again. After a switch, a small product is checked against a plain loop,
    /// so a kernel that computes wrong numbers on this CPU is dropped rather than trusted.
    public static func launch() {
        let env = ProcessInfo.processInfo.environment
        let reexecuted = env["MIMLAB_OPENBLAS_REEXEC"] != nil
        unsetenv("MIMLAB_OPENBLAS_REEXEC")  // children decide afresh
        let loaded = BLAS.corename
        if reexecuted {
            if env["MIMLAB_OPENBLAS_CHOSEN"] != nil && !selfTest() {
                FileHandle.standardError.write(Data("mimlab: OpenBLAS's \(loaded) kernel failed a check on this CPU; running OpenBLAS's own choice (set MIMLAB_OPENBLAS_AUTO=0 to skip the choice)\n".utf8))
                setenv("MIMLAB_OPENBLAS_AUTO", "0", 1)
                reexec(coretype: nil, replaced: nil)
            }
            launchStatus = currentStatus(replaced: nil)
            return
        }
        let cpu = CPUFeatures.current()   // read once: the launch path runs on every command
        switch decide(cpu: cpu, loaded: loaded, environment: env) {
        case .keep: launchStatus = currentStatus(replaced: nil, cpu: cpu)
        case .switchTo(let name): reexec(coretype: name, replaced: loaded)
        case .unset: reexec(coretype: nil, replaced: nil)
        }
    }

    private static func reexec(coretype: String?, replaced: String?) {
        if let coretype {
            setenv("OPENBLAS_CORETYPE", coretype, 1)
            setenv("MIMLAB_OPENBLAS_CHOSEN", coretype, 1)
            if let replaced { setenv("MIMLAB_OPENBLAS_REPLACED", replaced, 1) }
        } else {
            unsetenv("OPENBLAS_CORETYPE"); unsetenv("MIMLAB_OPENBLAS_CHOSEN"); unsetenv("MIMLAB_OPENBLAS_REPLACED")
        }
        setenv("MIMLAB_OPENBLAS_REEXEC", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc): carry on with the loaded kernel.
        unsetenv("MIMLAB_OPENBLAS_REEXEC")
        launchStatus = currentStatus(replaced: nil)
    }

    /// A 37×29×41 product against a Double loop: catches a kernel that runs but is wrong.
    public static func selfTest() -> Bool {
        let m = 37, n = 29, k = 41
        var rng = PRNG(seed: 7)
        let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLAS.sgemm1(false, false, m, n, k, 1, pa.baseAddress!, k, pb.baseAddress!, n, 0, pc.baseAddress!, n)
        } } }
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
            if abs(s - Double(c[i * n + j])) > 1e-4 * max(1, abs(s)) { return false }
        } }
        return true
    }
}
