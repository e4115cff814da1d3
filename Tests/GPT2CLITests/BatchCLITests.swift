import Foundation
import Testing
import TestSupport

/// `generate --batch` through the library's scheduler, `--parallel N` prompts at a time.
@Suite struct BatchCLITests {
    /// A JSON Lines file of `count` customer prompts, each other than the last.
    static func customers(_ count: Int) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        let names = ["Olivia Brown, 34, nurse", "Liam Chen, 52, architect", "Ava Patel, 41, teacher", "Noah Kim, 29, chef"]
        let lines = try (0..<count).map { i in
            let object: [String: Any] = ["id": "c\(i)", "prompt": "Customer: \(names[i % names.count]). Interests: item \(i).\nPitch:"]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        }
        try directory.write("customers.jsonl", lines.joined(separator: "\n") + "\n")
        return directory
    }

    /// The lines of a run, each parsed, sorted by index, without the timings (which differ run to run).
    static func results(_ output: CommandRunner.Output) throws -> [[String: String]] {
        try output.stdout.split(separator: "\n").map { line in
            var object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            object["timings"] = nil
            return object.mapValues { "\($0)" }
        }.sorted { Int($0["index"]!)! < Int($1["index"]!)! }
    }

    @Test("--parallel 1 and 8 write the same lines once sorted by index, greedy and seeded",
          arguments: [["--temperature", "0"], ["--seed", "7", "--temperature", "0.9"]])
    func parallelDoesNotChangeResults(sampling: [String]) throws {
        let directory = try Self.customers(12)
        let file = directory.file("customers.jsonl").path
        var runs: [[[String: String]]] = []
        for parallel in ["1", "8"] {
            let output = try CommandRunner.run("generate", ["--batch", file, "--max-tokens", "24", "--parallel", parallel] + sampling)
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stderr.contains("12 of 12 prompts finished"))
            let lines = try Self.results(output)
            #expect(lines.map { $0["index"] } == (0..<12).map { "\($0)" })
            #expect(lines.map { $0["id"] } == (0..<12).map { "c\($0)" })
            runs.append(lines)
        }
        #expect(runs[0] == runs[1])
        // the seeded prompts differ from one another: prompt i has seed S + i
        if sampling.contains("--seed") { #expect(Set(runs[0].map { $0["ids"] }).count > 1) }
    }

    @Test("--parallel outside 1...16 is a usage error naming the flag", arguments: ["0", "17", "x"])
    func badParallel(value: String) throws {
        let output = try CommandRunner.run("generate", ["--batch", "/dev/null", "--parallel", value])
        #expect(output.status == 64)
        #expect(output.stderr.hasPrefix("generate: error:") && output.stderr.contains("--parallel"))
        #expect(output.stderr.split(separator: "\n").count == 1)
    }
}
