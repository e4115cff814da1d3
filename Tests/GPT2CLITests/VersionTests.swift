import Testing
import TestSupport
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
