import Foundation
import Testing
import TestSupport
@testable import GPT2

/// README's table of user errors ("Exit codes and errors"), read from README.md and run row by
/// row as a user meets each error: the row's exit code, exactly its line on stderr (`DIR` and
/// `FILE` stand for the paths the scenario made), nothing on stdout, no backtrace. A row added
/// to the README without a scenario here fails, as does a message that drifts from the README's.
@Suite struct ErrorTableTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let situation: String
        let status: Int32
        /// The first text in backticks in the message cell; nil when the cell describes, not quotes.
        let message: String?
        var testDescription: String { situation }
    }

    /// What a scenario ran, and the paths that `DIR` and `FILE` stand for in its row's message.
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var directory: TemporaryDirectory?
        var file: URL?
        /// What `HOST` stands for in the message: a stand-in hub's address.
        var host: String?

        init(output: CommandRunner.Output, directory: TemporaryDirectory? = nil, file: URL? = nil) {
            (status, stdout, stderr) = (output.status, output.stdout, output.stderr)
            (self.directory, self.file) = (directory, file)
        }

        init(status: Int32, stderr: String, directory: TemporaryDirectory?) {
            (self.status, stdout, self.stderr, self.directory) = (status, "", stderr, directory)
        }
    }

    static let readme = TestPaths.packageRoot.appendingPathComponent("README.md")
    static let rows: [Row] = (try? readRows()) ?? []

    static func readRows() throws -> [Row] {
        let lines = try String(contentsOf: readme, encoding: .utf8).components(separatedBy: "\n")
        guard let header = lines.firstIndex(of: "| user error | exit | message on stderr |") else { return [] }
        return lines[(header + 2)...].prefix { $0.hasPrefix("| ") }.compactMap { line in
            let cells = line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
            guard cells.count == 3, let status = Int32(cells[1]) else { return nil }
            let quoted = cells[2].split(separator: "`", omittingEmptySubsequences: false)
            return Row(situation: cells[0], status: status, message: quoted.count >= 3 ? String(quoted[1]) : nil)
        }
    }

    @Test("README's error table is found, every line of it parses, and it covers every documented exit code")
    func tableIsRead() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let tableLines = text.components(separatedBy: "\n").drop { $0 != "| user error | exit | message on stderr |" }
            .dropFirst(2).prefix { $0.hasPrefix("| ") }
        #expect(Self.rows.count == tableLines.count)
        #expect(Self.rows.count >= 30)
        #expect(Set(Self.rows.map(\.status)) == [64, 65, 66, 69, 74, 77, 130])
    }

    /// Under a sanitizer, `ulimit -v` leaves no room to run at all: that row waits for the plain build.
    static let runnableRows = rows.filter { !GenerateCLITests.sanitized || $0.status != 74 || !$0.situation.contains("ulimit -v") }

    @Test("every row of README's error table: its exit code, its one line on stderr, nothing else", arguments: runnableRows)
    func row(_ row: Row) throws {
        let scenario = try #require(Self.scenarios[row.situation], "README row without a scenario in ErrorTableTests: \(row.situation)")
        let run = try scenario()
        let stderr = run.stderr
        #expect(run.status == row.status, "stderr: \(stderr)")
        for trace in ["Fatal error", "Stack dump", "backtrace", "Current stack trace", "Illegal instruction"] {
            #expect(!stderr.contains(trace), "stderr: \(stderr)")
        }
        guard row.status != 130 else { return }  // Ctrl-C keeps the text so far: its own checks below
        #expect(run.stdout.isEmpty, "stdout: \(run.stdout)")
        let message = try #require(row.message)
        var expected = message
        if let directory = run.directory { expected = expected.replacingOccurrences(of: "DIR", with: directory.url.path) }
        if let file = run.file { expected = expected.replacingOccurrences(of: "FILE", with: file.path) }
        if let host = run.host { expected = expected.replacingOccurrences(of: "HOST", with: host) }
        #expect(stderr == expected + "\n")
    }

    // MARK: - One scenario per row, keyed by the row's first cell

    static let scenarios: [String: @Sendable () throws -> Run] = [
        "`--model /nonexistent/model`": { try plain(["--model", "/nonexistent/model", "hi"]) },
        "model directory without tokenizer files": {
            let directory = try modelDirectory(["config.json"])
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "model directory without weights": {
            let directory = try modelDirectory(["config.json", "vocab.json", "merges.txt"])
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "truncated `model.safetensors`": {
            let directory = try modelDirectory(["config.json", "vocab.json", "merges.txt"])
            let weights = try Data(contentsOf: TestPaths.salesDemo.appendingPathComponent("model.safetensors"))
            try weights.prefix(1000).write(to: directory.file("model.safetensors"))
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "`config.json` that is not JSON": {
            let directory = try modelDirectory(["vocab.json", "merges.txt", "model.safetensors"])
            try "{ not json".write(to: directory.file("config.json"), atomically: true, encoding: .utf8)
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "`generation_config.json` with `\"top_p\": 1.5` (or a field of the wrong type: `\"temperature\": true`, `\"do_sample\": 1`)": {
            let directory = try modelDirectory(["config.json", "vocab.json", "merges.txt", "model.safetensors"])
            try #"{"top_p": 1.5}"#.write(to: directory.file("generation_config.json"), atomically: true, encoding: .utf8)
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "`config.json` of 2 GB (any model or tokenizer file over its limit, see [Reliability](#reliability))": {
            let directory = try GenerateCLITests.demoModel(replacing: "config.json", size: 2 << 30)
            return try Run(output: generate(["--model", directory.path, "hi"]), directory: directory)
        },
        "`model.safetensors` whose header has a million entries": {
            // refused before it is parsed: within 1 GB of address space (building it took 4 GB)
            let directory = try GenerateCLITests.millionEntryModel()
            let arguments = ["--model", directory.path, "hi"]
            let output = GenerateCLITests.sanitized ? try generate(arguments)
                : try GenerateCLITests.generate(arguments, addressSpaceKB: 1 << 20)
            return Run(output: output, directory: directory)
        },
        "weights the machine has no memory for (here a 1 GB `wte` with `--weights resident` under `ulimit -v`)": {
            let (directory, limitKB) = try GenerateCLITests.oversizedModel()
            return try Run(output: GenerateCLITests.generate(["--weights", "resident", "--prompt-ids", "1", "--max-tokens", "1",
                                                              "--model", directory.path, "--threads", "1"], addressSpaceKB: limitKB),
                           directory: directory)
        },
        "`model.safetensors` with tensors `config.json` does not use (`n_layer` 5 on a 6-layer checkpoint)": {
            let directory = try modelDirectory(["vocab.json", "merges.txt", "model.safetensors"])
            let config = try String(contentsOf: TestPaths.salesDemo.appendingPathComponent("config.json"), encoding: .utf8)
            try config.replacingOccurrences(of: "\"n_layer\": 6", with: "\"n_layer\": 5")
                .write(to: directory.file("config.json"), atomically: true, encoding: .utf8)
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "a weight that is NaN or infinite (any tensor, any `--precision`)": {
            let directory = try demoWithWeight("transformer.h.3.ln_1.weight", index: 17, values: [.nan])
            return try Run(output: generate(["--model", directory.url.path, "hi"]), directory: directory)
        },
        "`--prompt-file /nonexistent/prompt.txt`": { try plain(["--prompt-file", "/nonexistent/prompt.txt"]) },
        "`--prompt-file /tmp`": { try plain(["--prompt-file", "/tmp"]) },
        "`--model ''`": { try plain(["--model", "", "hi"]) },
        "`--model acme/gpt2-pitches --offline` (or `HF_HUB_OFFLINE=1`), not in the Hugging Face cache `DIR`": {
            let cache = try TestPaths.temporaryDirectory()
            return try Run(output: GenerateCLITests.generate(["--model", "acme/gpt2-pitches", "--offline", "hi"],
                                                             environment: ["HF_HUB_CACHE": cache.path]), directory: cache)
        },
        "`--model acme/gpt2-pitches`, a gated repository, without `HF_TOKEN` (here a stand-in hub at `HOST`)": {
            let cache = try TestPaths.temporaryDirectory()
            let hub = try MockHub(repos: ["acme/gpt2-pitches": TestPaths.salesDemo], faults: #"{"token": "secret"}"#)
            var run = try Run(output: GenerateCLITests.generate(["--model", "acme/gpt2-pitches", "hi"],
                                                                environment: ["HF_HUB_CACHE": cache.path, "HF_ENDPOINT": hub.url.absoluteString]))
            run.host = "\(hub.url.host!):\(hub.url.port!)"
            return run
        },
        "`--model acme/gpt2-pitches` with no network (here `HF_ENDPOINT` a closed port)": {
            let cache = try TestPaths.temporaryDirectory()
            return try Run(output: GenerateCLITests.generate(["--model", "acme/gpt2-pitches", "hi"],
                                                             environment: ["HF_HUB_CACHE": cache.path, "HF_ENDPOINT": "http://127.0.0.1:9"]))
        },
        "an argument that is not UTF-8": {
            let generate = CommandRunner.productsDirectory.appendingPathComponent("generate").path
            return try Run(output: CommandRunner.runSystem("bash", ["-c", "\"$0\" --tokenize \"$(printf 'caf\\303')\"", generate]))
        },
        "`--temperature -1`": { try plain(["--temperature", "-1", "hi"]) },
        "`--top-p 1.5`": { try plain(["--top-p", "1.5", "hi"]) },
        "`--top-k -3`": { try plain(["--top-k", "-3", "hi"]) },
        "`--max-tokens -1`": { try plain(["--max-tokens", "-1", "hi"]) },
        "`--threads 0`": { try plain(["--threads", "0", "hi"]) },
        "`--format xml`": { try plain(["--format", "xml", "hi"]) },
        "`--no-such-flag`": { try plain(["--no-such-flag", "hi"]) },
        "a `--prompt-file` that is not UTF-8": {
            let directory = try TestPaths.temporaryDirectory()
            try (Data("Customer: ".utf8) + Data([0xFF]) + Data(" Olivia".utf8)).write(to: directory.file("bad.txt"))
            return try Run(output: generate(["--prompt-file", "bad.txt"], currentDirectory: directory.url))
        },
        "standard input that is not UTF-8": {
            try Run(output: generate(["--max-tokens", "5"], stdinBytes: Data("Customer: ".utf8) + Data([0xFE, 0x20])))
        },
        "a `--batch` line that is not UTF-8": {
            let directory = try TestPaths.temporaryDirectory()
            let file = directory.file("customers.jsonl")
            try (Data("\"Customer: Olivia\"\n\"caf".utf8) + Data([0xC3, 0x22, 0x0A])).write(to: file)
            return try Run(output: generate(["--batch", file.path, "--max-tokens", "2"]), directory: directory, file: file)
        },
        "`--prompt-ids 1,x,3`": { try plain(["--prompt-ids", "1,x,3"]) },
        "`--prompt-ids 15496,99999999`": { try plain(["--prompt-ids", "15496,99999999"]) },
        "`--echo` without `--format json`": { try plain(["--echo", "hi"]) },
        "a PROMPT and `--prompt-ids` together": { try plain(["--prompt-ids", "1", "hi"]) },
        "`--batch /nonexistent/customers.jsonl`": { try plain(["--batch", "/nonexistent/customers.jsonl"]) },
        "a `--batch` line without a prompt": {
            let directory = try TestPaths.temporaryDirectory()
            let file = directory.file("customers.jsonl")
            try "{\"customer\": \"Olivia\"}\n\"hi\"\n".write(to: file, atomically: true, encoding: .utf8)
            return try Run(output: generate(["--batch", file.path, "--max-tokens", "2"]), directory: directory, file: file)
        },
        "finite weights whose logits overflow to NaN or infinity while generating": {
            // every element of wpe row 3 is 3e38: finite, but the LayerNorm's sum over the row
            // overflows (float32 weights: the demo's float16 cannot hold 3e38)
            let directory = try NonFiniteWeightsCLITests.model("transformer.wpe.weight", index: 3 * 64, values: [Float](repeating: 3e38, count: 64))
            var run = try Run(output: generate(["--model", directory.url.path, "--prompt-ids", "15496,11", "--temperature", "0",
                                                "--ignore-eos", "--max-tokens", "20"]), directory: directory)
            #expect(!run.stdout.isEmpty)  // the tokens before the overflow are kept; the check is on the ending
            run.stdout = ""
            return run
        },
        "a 600-token prompt for a 512-position model": {
            let directory = try TestPaths.temporaryDirectory()
            let file = directory.file("prompt.txt")
            try String(repeating: " a", count: 600).write(to: file, atomically: true, encoding: .utf8)
            return try Run(output: generate(["--prompt-file", file.path]), directory: directory, file: file)
        },
        "a mapped model file truncated while in use": { try truncatedWhileGenerating() },
        "standard output on a full disk (`> /dev/full`), any output mode": {
            let full = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
            defer { try? full.close() }
            return try Run(output: generate(["--max-tokens", "5", "hi"], stdoutFile: full))
        },
        "Ctrl-C while generating": {
            let output = try CommandRunner.interruptAfterFirstOutput("generate", ["--max-tokens", "400", "--ignore-eos", "Customer: Olivia"])
            // the text so far on stdout, then the summary line on stderr
            #expect(!output.stdout.isEmpty)
            #expect(output.stderr.split(separator: "\n").count == 1 && output.stderr.contains("stop: cancelled"), "\(output.stderr)")
            return Run(output: output)
        },
    ]

    static func generate(_ arguments: [String], stdinBytes: Data? = nil, currentDirectory: URL? = nil,
                         stdoutFile: FileHandle? = nil) throws -> CommandRunner.Output {
        try GenerateCLITests.generate(arguments, stdinBytes: stdinBytes, currentDirectory: currentDirectory, stdoutFile: stdoutFile)
    }

    static func plain(_ arguments: [String]) throws -> Run { Run(output: try generate(arguments)) }

    /// A new directory holding copies of these files of the demo model.
    static func modelDirectory(_ names: [String]) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for name in names {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(name), to: directory.file(name))
        }
        return directory
    }

    /// The demo model with elements `index...` of `tensor` (float16 in its file) replaced by `values`.
    static func demoWithWeight(_ tensor: String, index: Int, values: [Float]) throws -> TemporaryDirectory {
        let directory = try modelDirectory(["config.json", "vocab.json", "merges.txt", "model.safetensors"])
        let weights = directory.file("model.safetensors")
        let entry = try #require(try SafeTensorsFile(url: weights).entries[tensor])
        #expect(entry.dtype == .F16)
        var data = try Data(contentsOf: weights)
        let halves = values.map { Float16($0).bitPattern }
        let start = entry.range.lowerBound + 2 * index
        data.replaceSubrange(start..<(start + 2 * halves.count), with: halves.withUnsafeBytes { Data($0) })
        try data.write(to: weights)
        return directory
    }

    /// `generate` on mapped float16 weights (kept in the map), its model file cut short once it has
    /// written its first result: the next token reads a lost page.
    static func truncatedWhileGenerating() throws -> Run {
        // forty whole-context generations: seconds of work after the first line, however fast
        let (status, _, stderr, directory) = try truncatingModel(prompts: 40, arguments: ["--weights", "mapped"])
        // what it wrote before is the user's; the check is on the ending
        return Run(status: status, stderr: stderr, directory: directory)
    }

    /// `generate --batch` of `prompts` whole-context generations on the demo model's float16 weights
    /// (`--precision f16`: mapped, they stay in the map), its model file cut to 4 KB once the first
    /// result is written (`arguments` after the others); then the run to its end.
    static func truncatingModel(prompts: Int, arguments: [String]) throws
        -> (status: Int32, stdout: String, stderr: String, directory: TemporaryDirectory) {
        let directory = try modelDirectory(["config.json", "vocab.json", "merges.txt", "model.safetensors"])
        let batch = directory.file("customers.jsonl")
        try String(repeating: "\"Customer: Olivia\"\n", count: prompts).write(to: batch, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("generate")
        process.arguments = ["--model", directory.url.path, "--precision", "f16", "--batch", batch.path, "--parallel", "1",
                             "--max-tokens", "100000", "--ignore-eos", "-q"] + arguments
        let out = Pipe(), err = Pipe()
        (process.standardOutput, process.standardError, process.standardInput) = (out, err, FileHandle.nullDevice)
        let written = LockedData()
        out.fileHandleForReading.readabilityHandler = { written.append($0.availableData) }
        try process.run()
        let start = ContinuousClock.now
        while written.isEmpty && process.isRunning && ContinuousClock.now - start < .seconds(60) { usleep(10_000) }
        let file = try FileHandle(forWritingTo: directory.file("model.safetensors"))
        try file.truncate(atOffset: 4096)
        try file.close()
        while process.isRunning && ContinuousClock.now - start < .seconds(180) { usleep(20_000) }
        if process.isRunning { process.terminate() }  // neither ended nor read a lost page: fail, don't hang
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        written.append(out.fileHandleForReading.readDataToEndOfFile())
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, String(decoding: written.data, as: UTF8.self), stderr, directory)
    }
}
