import Testing
import TestSupport
import Foundation
import GPT2

/// `--version` on both command-line tools: the package's one version string, exit status 0.
@Suite struct VersionTests {
    @Test("--version prints the package version and exits 0", arguments: ["generate", "gpt2-bench"])
    func version(tool: String) throws {
        let output = try CommandRunner.run(tool, ["--version"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout == SwiftGPT2.version + "\n")
        #expect(SwiftGPT2.version == "0.4.0")
    }
}

/// Debian's OpenBLAS takes CPUs newer than it for a Prescott; the tools then start themselves again
/// naming the nearest core it knows, once, and never against the user's own choice.
@Suite struct OpenBLASCoreTests {
    static let fallbackCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom"]

    /// The cores OpenBLAS reports as it loads, in order (one line per start of the program).
    static func cores(_ tool: String, environment: [String: String]) throws -> (CommandRunner.Output, [String]) {
        let output = try CommandRunner.run(tool, ["--version"], environment: environment.merging(["OPENBLAS_VERBOSE": "2"]) { $1 })
        let cores = output.stderr.split(separator: "\n").compactMap { $0.hasPrefix("Core: ") ? String($0.dropFirst(6)) : nil }
        return (output, cores)
    }

    @Test("a CPU with AVX2 or AVX-512 is never left on a fallback core", arguments: ["generate", "gpt2-bench"])
    func restart(tool: String) throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return }
        let flags = Set((cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " "))
        let (output, cores) = try Self.cores(tool, environment: [:])
        #expect(output.status == 0 && output.stdout == SwiftGPT2.version + "\n", "\(output.stderr)")
        guard let first = cores.first else { return }  // not an OpenBLAS that reports its core
        if Self.fallbackCores.contains(first.lowercased()) && (flags.contains("avx2") || flags.contains("avx512f")) {
            #expect(cores.count == 2 && cores.last == (flags.contains("avx512f") ? "SkylakeX" : "Haswell"), "\(cores)")
        } else {
            #expect(cores.count == 1, "started again although OpenBLAS chose \(first): \(cores)")
        }
    }

    @Test("OPENBLAS_CORETYPE given by the user is kept", arguments: ["generate", "gpt2-bench"])
    func userChoice(tool: String) throws {
        let (output, cores) = try Self.cores(tool, environment: ["OPENBLAS_CORETYPE": "PRESCOTT"])
        #expect(output.status == 0 && output.stdout == SwiftGPT2.version + "\n", "\(output.stderr)")
        #expect(cores.count <= 1 && (cores.first.map { $0 == "Prescott" } ?? true), "\(cores)")
    }
}
