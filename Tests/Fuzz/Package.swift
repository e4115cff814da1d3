// swift-tools-version: 6.0
// libFuzzer targets for the parsers of untrusted model files. A separate package, so that the
// root package's `swift build` / `swift test` never build it. Build and run with scripts/fuzz.sh:
// `swift build --package-path Tests/Fuzz -c debug -Xswiftc -sanitize=fuzzer,address`
// (debug builds make GPT2's internals `@testable`).
//
// Each target's `main.swift` hands its `LLVMFuzzerTestOneInput` to `LLVMFuzzerRunDriver`: SwiftPM
// links an executable with `main` defined as the module's own entry point, so libFuzzer's `main`
// is never linked in, and `-parse-as-library` (no entry point) fails to link.
import PackageDescription

let targets = ["safetensors", "config", "shard-index", "vocab-merges", "tokenizer-json", "tokenizer-encode"]

let package = Package(
    name: "GPT2Fuzz",
    dependencies: [
        .package(name: "swift-gpt2", path: "../.."),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer", .product(name: "GPT2", package: "swift-gpt2")]
        ),
    ] + targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzSupport", .product(name: "GPT2", package: "swift-gpt2")],
            path: "Sources/\(name)"
        )
    }
)
