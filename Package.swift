// swift-tools-version:6.0
import PackageDescription
import Foundation

// Swift's default x86-64 target is SSE2-only; the SIMD kernels (GELU, LayerNorm, softmax)
// run 2-6x faster with AVX2/FMA. Haswell (AVX2 + FMA, 2013 on) is the portable floor for
// that; MIMLAB_TARGET_CPU overrides it (e.g. `skylake-avx512`, `znver4`, or `x86-64` to disable).
let targetCPU = ProcessInfo.processInfo.environment["MIMLAB_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = targetCPU == "x86-64" ? [] : [.unsafeFlags(["-target-cpu", targetCPU])]
#else
let cpuFlags: [SwiftSetting] = []
#endif

// The numeric targets use unchecked pointer arithmetic in release builds; everything else
// keeps Swift's checks.
let kernelSettings: [SwiftSetting] = cpuFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "mimlab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mimlab", targets: ["mimlab"]),
        .library(name: "MIMLab", targets: ["Tensor", "NN", "Data", "MIM", "Train", "Results", "Sweep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CImageCodecs", path: "Sources/CImageCodecs",
                       providers: [.apt(["libpng-dev", "libturbojpeg0-dev"])]),
        .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: kernelSettings),
        .target(name: "NN", dependencies: ["Tensor"], swiftSettings: kernelSettings),
        .target(name: "Data", dependencies: ["Tensor", "CImageCodecs"], swiftSettings: kernelSettings),
        .target(name: "MIM", dependencies: ["Tensor", "NN", "Data"], swiftSettings: kernelSettings),
        .target(name: "Train", dependencies: [
            "Tensor", "NN", "Data", "MIM", .product(name: "Yams", package: "Yams"),
        ], swiftSettings: kernelSettings),
        .target(name: "Results", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "Sweep", dependencies: [
            "NN", "Train", "MIM", "Results", .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "mimlab", dependencies: [
            "Tensor", "NN", "Data", "MIM", "Train", "Results", "Sweep",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: cpuFlags),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"], swiftSettings: cpuFlags),
        .testTarget(name: "NNTests", dependencies: ["Tensor", "NN"], swiftSettings: cpuFlags),
        .testTarget(name: "DataTests", dependencies: ["Tensor", "Data"], swiftSettings: cpuFlags),
        .testTarget(name: "MIMTests", dependencies: ["Tensor", "NN", "MIM"], swiftSettings: cpuFlags),
        .testTarget(name: "ResultsTests", dependencies: ["Results"]),
        // GRDB: the fuzz suite writes malformed rows that mimlab itself never would.
        .testTarget(name: "SweepTests", dependencies: ["Tensor", "Train", "Results", "Sweep", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: cpuFlags),
        .testTarget(name: "TrainTests", dependencies: ["Tensor", "NN", "MIM", "Data", "Train"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
    ],
    swiftLanguageModes: [.v5]
)
