// swift-tools-version: 6.0
// libFuzzer targets for the parsers of untrusted model files. A separate package, so that the
// root package's `swift build` / `swift test` never build it. Build and run with scripts/fuzz.sh:
// `swift build --package-path Tests/Fuzz -c debug -Xswiftc -sanitize=fuzzer,address`
// (debug builds make the library targets' internals `@testable`).
//
// The harnesses need internals of GPT2Tokenizer and GPT2 (`@testable import`), but a package can
// only depend on another package's products, and the root's one library product, GPT2, exports
// GPT2Tokenizer's public API only. So this package does not depend on the root package: it
// builds the library targets itself, from Sources/CBLAS, Sources/GPT2Tokenizer,
// Sources/GPT2Kernels and Sources/GPT2 here, which are relative symlinks to the root's
// Sources/<name> (one copy of the sources; SwiftPM follows the links). Keep the targets below in
// step with the root Package.swift's.
//
// Each harness's `main.swift` hands its `LLVMFuzzerTestOneInput` to `LLVMFuzzerRunDriver`: SwiftPM
// links an executable with `main` defined as the module's own entry point, so libFuzzer's `main`
// is never linked in, and `-parse-as-library` (no entry point) fails to link.
import PackageDescription

// Harness name (Sources/<name>, executable fuzz-<name>) and the library target it fuzzes.
let harnesses: [(name: String, library: String)] = [
    ("safetensors", "GPT2"),
    ("config", "GPT2"),
    ("shard-index", "GPT2"),
    ("vocab-merges", "GPT2Tokenizer"),
    ("tokenizer-json", "GPT2Tokenizer"),
    ("tokenizer-encode", "GPT2Tokenizer"),
]

let package = Package(
    name: "GPT2Fuzz",
    platforms: [.macOS(.v15)],
    targets: [
        // The root package's library targets (symlinked sources; see above).
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

        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer", "GPT2Tokenizer"]
        ),
    ] + harnesses.map { harness in
        .executableTarget(
            name: "fuzz-\(harness.name)",
            dependencies: ["FuzzSupport", .target(name: harness.library)],
            path: "Sources/\(harness.name)"
        )
    }
)
