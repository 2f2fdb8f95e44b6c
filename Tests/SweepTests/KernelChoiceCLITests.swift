import Foundation
import XCTest

/// The launch path end to end: the binary re-executes itself under the kernel it chose.
/// This machine's CPU is whatever CI runs on, so the test hands mimlab a cpuinfo whose
/// vendor is changed to Intel: an AVX2 Intel CPU should run Haswell whatever OpenBLAS picks.
final class KernelChoiceCLITests: XCTestCase {
    func bench(_ env: [String: String], _ dir: URL) throws -> [String: Any] {
        let out = try CLI.run(["bench", "--steps", "1", "--batch", "4", "--mode", "finetune", "--json"], in: dir, env: env)
        XCTAssertEqual(out.status, 0, out.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
    }

    func testUsersVariableWinsAndIsReported() throws {
        let dir = try CLI.tempDir()
        let j = try bench(["OPENBLAS_CORETYPE": "Prescott"], dir)
        XCTAssertEqual(j["openblas_corename"] as? String, "Prescott")
        XCTAssertEqual(j["openblas_chosen_by"] as? String, "user")
    }

    func testMimlabReexecutesUnderItsChoice() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard cpuinfo.contains(" avx2"), cpuinfo.contains(" fma"), !cpuinfo.contains("avx512f") else {
            throw XCTSkip("needs an AVX2 CPU without AVX-512 to fake as an Intel one")
        }
        let dir = try CLI.tempDir()
        let fake = dir.appendingPathComponent("cpuinfo")
        try cpuinfo.replacingOccurrences(of: "AuthenticAMD", with: "GenuineIntel")
            .write(to: fake, atomically: true, encoding: .utf8)
        var env = ["MIMLAB_CPUINFO": fake.path]
        env["OPENBLAS_CORETYPE"] = "Zen"; env["MIMLAB_OPENBLAS_CHOSEN"] = "Zen"   // as if inherited
        let j = try bench(env, dir)
        XCTAssertEqual(j["openblas_corename"] as? String, "Haswell")
        XCTAssertEqual(j["openblas_chosen_by"] as? String, "mimlab")
        XCTAssertEqual(j["cpu_features"] as? String, "AVX2 + FMA")
    }

    /// The kernel and the thread count, without which a run's seconds cannot be compared.
    func testEachRunRecordsItsKernelAndThreads() throws {
        let dir = try CLI.tempDir()
        let spec = try CLI.writeSpec(dir, "seeds: [0]\n")
        let db = dir.appendingPathComponent("r.sqlite").path
        let env = ["OPENBLAS_CORETYPE": "Haswell"]
        let run = try CLI.run(["sweep", "run", spec, "--db", db, "--threads", "1"], in: dir, env: env)
        XCTAssertEqual(run.status, 0, run.stderr)
        let out = try CLI.run(["sql", "select blas_kernel, threads from runs", "--db", db, "--format", "csv"], in: dir, name: "sql")
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stdout.contains("Haswell (user),1"), out.stdout)
    }
}
