import Tensor
import XCTest

/// The kernel choice on feature sets this machine may not have: the flags are those the
/// kernel prints for each processor in /proc/cpuinfo.
final class BLASKernelTests: XCTestCase {
    static let base = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm pni ssse3 sse4_1 sse4_2 popcnt"
    static let avx2 = base + " avx f16c fma avx2 bmi1 bmi2"
    static let avx512 = avx2 + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"

    static func cpu(_ vendor: String, _ flags: String, family: Int = 6, model: Int = 207) -> CPUFeatures {
        CPUFeatures.parse(cpuinfo: """
            processor\t: 0
            vendor_id\t: \(vendor)
            cpu family\t: \(family)
            model\t\t: \(model)
            model name\t: test CPU
            flags\t\t: \(flags)

            processor\t: 1
            vendor_id\t: SomethingElse
            flags\t\t: sse
            """)
    }

    let intelBF16 = cpu("GenuineIntel", avx512 + " avx512_bf16 avx512_fp16 amx_tile")
    let intelAVX512 = cpu("GenuineIntel", avx512, model: 85)
    let intelAVX2 = cpu("GenuineIntel", avx2, model: 63)
    let amdZen3 = cpu("AuthenticAMD", avx2 + " sse4a", family: 25, model: 1)
    let amdZen4 = cpu("AuthenticAMD", avx512 + " avx512_bf16 sse4a", family: 25, model: 17)
    let sseOnly = cpu("GenuineIntel", base, model: 15)

    func testParseReadsTheFirstProcessor() {
        XCTAssertEqual(intelBF16.vendor, .intel)
        XCTAssertEqual(intelBF16.family, 6)
        XCTAssertEqual(intelBF16.model, 207)
        XCTAssertTrue(intelBF16.hasAVX512BF16)
        XCTAssertEqual(amdZen3.vendor, .amd)
        XCTAssertFalse(amdZen3.hasAVX512)
        XCTAssertTrue(amdZen3.hasAVX2FMA)
        XCTAssertEqual(CPUFeatures.parse(cpuinfo: "").vendor, .other)
    }

    func testBestKernelPerFeatureSet() {
        XCTAssertEqual(BLASKernel.best(for: intelBF16), "Cooperlake")
        XCTAssertEqual(BLASKernel.best(for: amdZen4), "Cooperlake")
        XCTAssertEqual(BLASKernel.best(for: intelAVX512), "SkylakeX")
        XCTAssertEqual(BLASKernel.best(for: intelAVX2), "Haswell")
        XCTAssertEqual(BLASKernel.best(for: amdZen3), "Zen")
        XCTAssertNil(BLASKernel.best(for: sseOnly))
        // AVX-512F alone (no BW/VL) is not enough for OpenBLAS's SkylakeX kernels.
        XCTAssertEqual(BLASKernel.best(for: Self.cpu("GenuineIntel", Self.avx2 + " avx512f")), "Haswell")
    }

    func testWeakerChoiceIsReplaced() {
        // The case that started this: a new Xeon that OpenBLAS 0.3.21 does not know.
        XCTAssertEqual(BLASKernel.decide(cpu: intelBF16, loaded: "Prescott", environment: [:]), .switchTo("Cooperlake"))
        XCTAssertEqual(BLASKernel.decide(cpu: intelAVX512, loaded: "Haswell", environment: [:]), .switchTo("SkylakeX"))
        XCTAssertEqual(BLASKernel.decide(cpu: amdZen4, loaded: "Zen", environment: [:]), .switchTo("Cooperlake"))
        XCTAssertEqual(BLASKernel.decide(cpu: intelAVX2, loaded: "Sandybridge", environment: [:]), .switchTo("Haswell"))
        XCTAssertEqual(BLASKernel.decide(cpu: intelAVX2, loaded: "Zen", environment: [:]), .switchTo("Haswell"))
    }

    func testGoodChoiceIsKept() {
        XCTAssertEqual(BLASKernel.decide(cpu: intelBF16, loaded: "Cooperlake", environment: [:]), .keep(.openblas))
        XCTAssertEqual(BLASKernel.decide(cpu: intelAVX512, loaded: "SkylakeX", environment: [:]), .keep(.openblas))
        XCTAssertEqual(BLASKernel.decide(cpu: amdZen3, loaded: "Zen", environment: [:]), .keep(.openblas))
        XCTAssertEqual(BLASKernel.decide(cpu: amdZen3, loaded: "Haswell", environment: [:]), .keep(.openblas))
        // A newer library that knows the CPU better than this table is left alone.
        XCTAssertEqual(BLASKernel.decide(cpu: intelBF16, loaded: "SapphireRapids", environment: [:]), .keep(.openblas))
        XCTAssertEqual(BLASKernel.decide(cpu: sseOnly, loaded: "Prescott", environment: [:]), .keep(.openblas))
        XCTAssertEqual(BLASKernel.decide(cpu: nil, loaded: "Prescott", environment: [:]), .keep(.openblas))
    }

    func testUsersChoiceAlwaysWins() {
        for cpu in [intelBF16, intelAVX512, intelAVX2, amdZen3, sseOnly] {
            XCTAssertEqual(BLASKernel.decide(cpu: cpu, loaded: "Prescott", environment: ["OPENBLAS_CORETYPE": "Prescott"]), .keep(.user))
            // mimlab's marker names another kernel: the variable was the user's.
            XCTAssertEqual(BLASKernel.decide(cpu: cpu, loaded: "Haswell",
                                             environment: ["OPENBLAS_CORETYPE": "Haswell", "MIMLAB_OPENBLAS_CHOSEN": "SkylakeX"]), .keep(.user))
        }
        XCTAssertEqual(BLASKernel.decide(cpu: intelBF16, loaded: "Prescott", environment: ["MIMLAB_OPENBLAS_AUTO": "0"]), .keep(.openblas))
    }

    func testInheritedChoiceIsCheckedOnThisCPU() {
        // A child (a pool worker, a Slurm task on another node) inherits mimlab's variable.
        let inherited = ["OPENBLAS_CORETYPE": "Cooperlake", "MIMLAB_OPENBLAS_CHOSEN": "Cooperlake"]
        XCTAssertEqual(BLASKernel.decide(cpu: intelBF16, loaded: "Cooperlake", environment: inherited), .keep(.mimlab))
        XCTAssertEqual(BLASKernel.decide(cpu: intelAVX512, loaded: "Cooperlake", environment: inherited), .switchTo("SkylakeX"))
        XCTAssertEqual(BLASKernel.decide(cpu: amdZen3, loaded: "Cooperlake", environment: inherited), .switchTo("Zen"))
        XCTAssertEqual(BLASKernel.decide(cpu: sseOnly, loaded: "Cooperlake", environment: inherited), .unset)
    }

    func testSelfTestPassesOnTheLoadedKernel() {
        XCTAssertTrue(BLASKernel.selfTest())
    }

    func testStatusDescribesWhoChose() {
        let s = BLASKernel.Status(corename: "Cooperlake", origin: .mimlab, replaced: "Prescott", requested: nil,
                                  features: "AVX-512 F/BW/VL/DQ, AVX512_BF16")
        XCTAssertEqual(s.description, "Cooperlake (chosen by mimlab for this CPU's AVX-512 F/BW/VL/DQ, AVX512_BF16; OpenBLAS alone picked Prescott)")
        XCTAssertEqual(s.record, "Cooperlake (mimlab)")
        let u = BLASKernel.Status(corename: "Haswell", origin: .user, replaced: nil, requested: "Bogus", features: "AVX2 + FMA")
        XCTAssertTrue(u.description.contains("OPENBLAS_CORETYPE=Bogus"), u.description)
    }
}
