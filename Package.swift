// swift-tools-version: 6.0
import PackageDescription

// The import graph runs one way: generate → PitchWeb → SalesPitch → GPT2; generate → GPT2Server → GPT2; generate, gpt2-bench →
// GPT2 → GPT2Tokenizer, GPT2Kernels → CBLAS; generate → GPT2Hub → GPT2Tokenizer.
// GPT2Kernels is the package's performance seam (`package` access only); GPT2 is the public API.
let package = Package(
    name: "swift-gpt2",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GPT2", targets: ["GPT2"]),
        .library(name: "SalesPitch", targets: ["SalesPitch"]),
        .library(name: "GPT2Hub", targets: ["GPT2Hub"]),
        .executable(name: "generate", targets: ["generate"]),
        .executable(name: "gpt2-bench", targets: ["gpt2-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // OpenBLAS's CBLAS on Linux. On Apple platforms the kernels use Accelerate instead
        // (see Sources/GPT2Kernels/BLAS.swift), so this target is only linked on Linux.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "GPT2Tokenizer"),
        .target(
            name: "GPT2Kernels",
            dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux]))]
        ),
        .target(
            name: "GPT2",
            dependencies: ["GPT2Tokenizer", "GPT2Kernels"]
        ),
        // Models by Hugging Face repository id: the Hugging Face cache shared with Python, and
        // downloads into it (Foundation's URLSession). Apart, so that the engine has no networking.
        .target(name: "GPT2Hub", dependencies: ["GPT2Tokenizer"]),
        // The sales-pitch workflow (profiles, templates, checks, the pitches file, review
        // feedback): a front end of its own, so that the engine stays free of the sales domain.
        .target(
            name: "SalesPitch",
            dependencies: ["GPT2", .product(name: "CSV", package: "CSV.swift")]
        ),
        // The OpenAI-compatible HTTP server behind `generate serve`, on Hummingbird (SwiftNIO).
        .target(
            name: "GPT2Server",
            dependencies: ["GPT2", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // The pitch workflow as a web page at `/` of `generate serve` (plain HTML, CSS and
        // JavaScript, compiled in), and the page's own endpoints.
        .target(
            name: "PitchWeb",
            dependencies: ["GPT2", "SalesPitch", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        .executableTarget(
            name: "generate",
            dependencies: ["GPT2", "GPT2Kernels", "GPT2Hub", "SalesPitch", "GPT2Server", "PitchWeb", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt2-bench",
            dependencies: ["GPT2", "GPT2Kernels", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/gpt2-bench"
        ),

        // Tests: one target per library target, and the command-line tools end to end. Fixtures
        // live in Tests/Fixtures, found through TestSupport's `TestPaths`.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "GPT2KernelsTests", dependencies: ["GPT2Kernels", "TestSupport"]),
        .testTarget(name: "GPT2TokenizerTests", dependencies: ["GPT2Tokenizer", "TestSupport"]),
        .testTarget(name: "GPT2Tests", dependencies: ["GPT2", "GPT2Kernels", "TestSupport"]),
        .testTarget(name: "GPT2HubTests", dependencies: ["GPT2Hub", "TestSupport"]),
        .testTarget(name: "SalesPitchTests", dependencies: ["SalesPitch", "TestSupport"]),
        .testTarget(name: "GPT2CLITests", dependencies: ["GPT2", "GPT2Kernels", "SalesPitch", "gpt2-bench", "TestSupport"]),
    ]
)
