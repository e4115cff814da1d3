// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "swift-gpt2",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GPT2", targets: ["GPT2"]),
        .executable(name: "generate", targets: ["generate"]),
        .executable(name: "gpt2-bench", targets: ["gpt2-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS's CBLAS on Linux. On Apple platforms the library uses Accelerate instead
        // (see Sources/GPT2/Math/BLAS.swift), so this target is only linked on Linux.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "GPT2",
            dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "generate",
            dependencies: ["GPT2", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt2-bench",
            dependencies: ["GPT2", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/gpt2-bench"
        ),
        .testTarget(
            name: "GPT2Tests",
            dependencies: ["GPT2"],
            exclude: ["Fixtures"]
        ),
    ]
)
