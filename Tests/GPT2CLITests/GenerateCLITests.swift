import Foundation
import Testing
import TestSupport
@testable import GPT2
import GPT2Kernels

/// The built `generate` executable, run as a user runs it.
@Suite struct GenerateCLITests {
    static func generate(_ arguments: [String], stdin: String? = nil, stdinBytes: Data? = nil, environment: [String: String] = [:],
                         currentDirectory: URL? = nil, stdoutFile: FileHandle? = nil) throws -> CommandRunner.Output {
        try CommandRunner.run("generate", arguments, stdin: stdin, stdinBytes: stdinBytes, environment: environment,
                              currentDirectory: currentDirectory, stdoutFile: stdoutFile)
    }

    static func json(_ output: CommandRunner.Output) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [String: Any])
    }

    @Test("the default model writes the reference pitch, from any working directory")
    func defaultModelGreedy() throws {
        let example = try SalesDemoCase.loadAll()[0]
        let output = try Self.generate(["--temperature", "0", example.prompt], currentDirectory: URL(fileURLWithPath: "/"))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout == example.greedy_text + "\n")
        // the summary line goes to stderr
        #expect(output.stderr.contains("tok/s"))
        #expect(output.stderr.split(separator: "\n").count == 1)
    }

    @Test("--precision f16 and --weights resident keep the float16 demo model's greedy tokens")
    func halfPrecisionResident() throws {
        // a few tokens only: unoptimized (debug) float16 kernels are slow
        let example = try SalesDemoCase.loadAll()[1]
        let output = try Self.generate(["--temperature", "0", "--max-tokens", "6", "--format", "json",
                                        "--precision", "f16", "--weights", "resident", example.prompt])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(try Self.json(output)["ids"] as? [Int] == Array(example.greedy_ids.prefix(6)))
    }

    @Test("--format json parses and agrees with the library")
    func jsonAgreesWithLibrary() async throws {
        let example = try SalesDemoCase.loadAll()[1]
        // with the sgemm kernels this process has (the tool would otherwise pick others where
        // OpenBLAS misreads the CPU, and the log-probs differ in their last bits)
        let output = try Self.generate(["--format", "json", "--seed", "11", "--max-tokens", "30", "--quiet", example.prompt],
                                        environment: BLAS.coreName.map { ["OPENBLAS_CORETYPE": $0] } ?? [:])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.isEmpty)
        let object = try Self.json(output)
        let library = try await TextGenerator(directory: TestPaths.salesDemo).generate(
            prompt: example.prompt, parameters: GenerationParameters(maxNewTokens: 30, seed: 11))
        #expect(object["prompt_ids"] as? [Int] == example.prompt_ids)
        #expect(object["ids"] as? [Int] == library.tokenIDs)
        #expect(object["text"] as? String == library.text)
        #expect(object["stop_reason"] as? String == library.summary.stopReason.rawValue)
        let logprobs = try #require(object["logprobs"] as? [Double])
        #expect(logprobs.count == library.logprobs.count)
        for (a, b) in zip(logprobs, library.logprobs) { #expect(abs(a - b) < 1e-9) }
        let timings = try #require(object["timings"] as? [String: Any])
        for key in ["load_s", "prompt_s", "generation_s", "prompt_tokens_per_s", "generation_tokens_per_s"] {
            #expect(timings[key] is Double, "timings.\(key)")
        }
    }

    @Test("--prompt-ids with --echo and --max-tokens 0 scores the prompt")
    func echoScoresPrompt() async throws {
        let example = try SalesDemoCase.loadAll()[0]
        let ids = example.prompt_ids.map(String.init).joined(separator: ",")
        let output = try Self.generate(["--prompt-ids", ids, "--max-tokens", "0", "--format", "json", "--echo", "-q"])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try Self.json(output)
        #expect(object["ids"] as? [Int] == [])
        let scores = try #require(object["prompt_logprobs"] as? [Any])
        #expect(scores.count == example.prompt_ids.count)
        #expect(scores.first is NSNull)
        let sum = scores.dropFirst().compactMap { $0 as? Double }.reduce(0, +)
        #expect(abs(sum - example.prompt_logprob_sum) < 1e-3)  // the float64 reference
    }

    @Test("--tokenize prints the prompt's ids as a JSON array")
    func tokenize() throws {
        let output = try Self.generate(["--tokenize", "Hello, world!"])
        #expect(output.status == 0)
        #expect(try JSONSerialization.jsonObject(with: output.stdoutData) as? [Int] == [15496, 11, 995, 0])
    }

    @Test("the prompt can come from standard input or a file")
    func promptSources() throws {
        let example = try SalesDemoCase.loadAll()[1]
        let fromStdin = try Self.generate(["--tokenize"], stdin: example.prompt)
        #expect(try JSONSerialization.jsonObject(with: fromStdin.stdoutData) as? [Int] == example.prompt_ids)
        let directory = try TestPaths.temporaryDirectory()
        let file = directory.appendingPathComponent("prompt.txt")
        try example.prompt.write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try Self.generate(["--tokenize", "--prompt-file", file.path])
        #expect(try JSONSerialization.jsonObject(with: fromFile.stdoutData) as? [Int] == example.prompt_ids)
    }

    @Test("files that are not regular files are read: /dev/stdin, a pipe; a --batch file with CRLF line ends")
    func otherFileKinds() throws {
        let example = try SalesDemoCase.loadAll()[1]
        let fromDevStdin = try Self.generate(["--tokenize", "--prompt-file", "/dev/stdin"], stdin: example.prompt)
        #expect(fromDevStdin.status == 0, "\(fromDevStdin.stderr)")
        #expect(try JSONSerialization.jsonObject(with: fromDevStdin.stdoutData) as? [Int] == example.prompt_ids)
        // a process substitution, as bash gives it: a pipe under /dev/fd
        let generate = CommandRunner.productsDirectory.appendingPathComponent("generate").path
        let piped = try CommandRunner.runSystem("bash", ["-c", "\"$0\" --tokenize --prompt-file <(printf 'Hello world')", generate])
        #expect(piped.status == 0 && piped.stdout == "[15496, 995]\n", "\(piped.stderr)")

        let directory = try TestPaths.temporaryDirectory()
        let batch = directory.appendingPathComponent("windows.jsonl")
        try Data("\"Customer: Olivia\"\r\n{\"prompt\": \"Customer: Wei\", \"id\": 7}\r\n\r\n".utf8).write(to: batch)
        let output = try Self.generate(["--batch", batch.path, "--max-tokens", "2", "--temperature", "0"])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2 && lines.contains { $0["id"] as? Int == 7 && $0["line"] as? Int == 2 })
    }

    @Test("output into a file that fills up (a file-size limit) exits 74 and leaves whole JSON lines only")
    func fullFileKeepsWholeLines() throws {
        let directory = try TestPaths.temporaryDirectory()
        let batch = directory.appendingPathComponent("prompts.jsonl")
        try Data(String(repeating: "\"Customer: Olivia Brown, nurse.\"\n", count: 20).utf8).write(to: batch)
        let out = directory.appendingPathComponent("out.jsonl")
        let generate = CommandRunner.productsDirectory.appendingPathComponent("generate").path
        // ulimit -f counts 1024-byte blocks: 4 KB holds a few result lines, not twenty
        let run = try CommandRunner.runSystem("bash", ["-c", "ulimit -f 4; \"$0\" --batch \"$1\" --max-tokens 20 -q > \"$2\"",
                                                       generate, batch.path, out.path])
        #expect(run.status == 74, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("generate: error: standard output:") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        let written = try String(contentsOf: out, encoding: .utf8)
        #expect(written.hasSuffix("\n"))
        let lines = written.split(separator: "\n")
        #expect(!lines.isEmpty && lines.count < 20)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
    }

    @Test("an argument that is not valid UTF-8 is refused with exit 65, not replaced by U+FFFD")
    func invalidUTF8Argument() throws {
        let generate = CommandRunner.productsDirectory.appendingPathComponent("generate").path
        let output = try CommandRunner.runSystem("bash", ["-c", "\"$0\" --tokenize \"$(printf 'caf\\303')\"", generate])
        #expect(output.status == 65)
        #expect(output.stderr == "generate: error: argument 2 is not valid UTF-8\n")
        #expect(output.stdout.isEmpty)
    }

    @Test("a UTF-8 byte-order mark starting a prompt file or standard input is not part of the prompt")
    func byteOrderMark() throws {
        let bom = Data([0xEF, 0xBB, 0xBF])
        let fromStdin = try Self.generate(["--tokenize"], stdinBytes: bom + Data("Hello, world!".utf8))
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(try JSONSerialization.jsonObject(with: fromStdin.stdoutData) as? [Int] == [15496, 11, 995, 0])
        let directory = try TestPaths.temporaryDirectory()
        let file = directory.appendingPathComponent("prompt.txt")
        try (bom + Data("Hello, world!".utf8)).write(to: file)
        let fromFile = try Self.generate(["--tokenize", "--prompt-file", file.path])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(try JSONSerialization.jsonObject(with: fromFile.stdoutData) as? [Int] == [15496, 11, 995, 0])
        let batch = directory.appendingPathComponent("customers.jsonl")
        try (bom + Data("\"Hello, world!\"\n".utf8)).write(to: batch)
        let fromBatch = try Self.generate(["--batch", batch.path, "--max-tokens", "0", "-q"])
        #expect(fromBatch.status == 0, "\(fromBatch.stderr)")
        #expect(try Self.json(fromBatch)["prompt_ids"] as? [Int] == [15496, 11, 995, 0])
        // only a leading one: elsewhere U+FEFF is text like any other
        let inside = try Self.generate(["--tokenize"], stdinBytes: Data("Hello".utf8) + bom)
        #expect(try JSONSerialization.jsonObject(with: inside.stdoutData) as? [Int] == [15496, 171, 119, 123])
    }

    @Test("a prompt that is not valid UTF-8 is rejected with exit 65, naming where, not replaced by U+FFFD")
    func invalidUTF8() throws {
        let bad = Data("Customer: ".utf8) + Data([0xFF, 0xFE]) + Data(" Olivia\nPitch:".utf8)
        let directory = try TestPaths.temporaryDirectory()
        let file = directory.appendingPathComponent("bad.txt")
        try bad.write(to: file)
        var output = try Self.generate(["--prompt-file", file.path, "--max-tokens", "5"])
        #expect(output.status == 65)
        #expect(output.stderr == "generate: error: --prompt-file \(file.path): not valid UTF-8 (byte offset 10)\n")
        #expect(output.stdout.isEmpty)

        // after a byte-order mark, offsets still count from the start of the input
        output = try Self.generate(["--max-tokens", "5"], stdinBytes: Data([0xEF, 0xBB, 0xBF]) + bad)
        #expect(output.status == 65)
        #expect(output.stderr == "generate: error: standard input: not valid UTF-8 (byte offset 13)\n")
        #expect(output.stdout.isEmpty)

        // a sequence cut short at the end, and an encoded surrogate, are invalid too
        for bytes in [Data("caf".utf8) + Data([0xC3]), Data([0xED, 0xA0, 0x80])] {
            output = try Self.generate(["--tokenize"], stdinBytes: bytes)
            #expect(output.status == 65 && output.stderr.contains("not valid UTF-8"), "\(output.stderr)")
        }

        let batch = directory.appendingPathComponent("customers.jsonl")
        try (Data("\"Customer: Olivia\"\n\"caf".utf8) + Data([0xC3, 0x22, 0x0A])).write(to: batch)
        output = try Self.generate(["--batch", batch.path, "--max-tokens", "2"])
        #expect(output.status == 65)
        #expect(output.stderr == "generate: error: --batch \(batch.path), line 2: not valid UTF-8\n")
        #expect(output.stdout.isEmpty)
    }

    @Test("--stop ends the text before the stop string")
    func stopOption() throws {
        let example = try SalesDemoCase.loadAll()[0]
        let output = try Self.generate(["--temperature", "0", "--stop", "last week", "--format", "json", "-q", example.prompt])
        let object = try Self.json(output)
        #expect(object["text"] as? String == " Hi Olivia! You viewed high-end cameras ")
        #expect(object["stop_reason"] as? String == "stop")
    }

    @Test("--max-tokens Int.max generates until <|endoftext|>, like any large limit")
    func hugeMaxTokens() throws {
        let example = try SalesDemoCase.loadAll()[0]
        let output = try Self.generate(["--max-tokens", String(Int.max), "--temperature", "0", "--format", "json", "-q", example.prompt])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try Self.json(output)
        #expect(object["ids"] as? [Int] == example.greedy_ids + [50256])
        #expect(object["stop_reason"] as? String == "eos")
    }

    @Test("--model and GPT2_MODEL_DIR choose the model")
    func modelSelection() throws {
        let fixture = TestPaths.reference.appendingPathComponent("tiny-gpt2-f32")
        // The fixture has no tokenizer files: copy in the demo's.
        let directory = try TestPaths.temporaryDirectory()
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: fixture.appendingPathComponent(name))
        }
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        let reference = try ReferenceFile.load("tiny-gpt2-f32").cases[0]
        let ids = reference.input_ids.map(String.init).joined(separator: ",")
        for run in [["--model", directory.path], []] {
            let output = try Self.generate(run + ["--prompt-ids", ids, "--temperature", "0", "--max-tokens", "20", "--ignore-eos", "--format", "json", "-q"],
                                           environment: run.isEmpty ? ["GPT2_MODEL_DIR": directory.path] : [:])
            #expect(output.status == 0, "\(output.stderr)")
            #expect(try Self.json(output)["ids"] as? [Int] == reference.greedy_20)
        }
    }

    /// A user error: the expected exit code and exactly one line on stderr naming the problem.
    @Test("user errors give one line on stderr and the documented exit code", arguments: [
        (["--model", "/nonexistent/model", "hi"], 66, "/nonexistent/model"),
        (["--prompt-file", "/nonexistent/prompt.txt"], 66, "/nonexistent/prompt.txt"),
        (["--temperature", "-1", "hi"], 64, "--temperature"),
        (["--top-p", "1.5", "hi"], 64, "--top-p"),
        (["--top-k", "-3", "hi"], 64, "--top-k"),
        (["--max-tokens", "-1", "hi"], 64, "--max-tokens"),
        (["--threads", "0", "hi"], 64, "--threads"),
        (["--format", "xml", "hi"], 64, "xml"),
        (["--precision", "f64", "hi"], 64, "f64"),
        (["--weights", "ram", "hi"], 64, "ram"),
        (["--no-such-flag", "hi"], 64, "--no-such-flag"),
        (["--prompt-ids", "1,x,3"], 64, "--prompt-ids"),
        (["--prompt-ids", "15496,99999999"], 65, "99999999"),
        (["--echo", "hi"], 64, "--echo"),
        (["--prompt-ids", "1", "hi"], 64, "one way"),
        (["--batch", "/nonexistent/customers.jsonl"], 66, "/nonexistent/customers.jsonl"),
        (["--model", "", "hi"], 64, "--model: an empty path"),
        (["--prompt-file", "/tmp"], 66, "/tmp: a directory"),
        (["--prompt-file", ""], 66, "--prompt-file"),
        (["pitch", "--template", "/tmp", "--name", "A", "--product", "B"], 66, "--template /tmp: a directory"),
        (["pitch", "--profile", "/nonexistent/p.json"], 66, "--profile /nonexistent/p.json"),
    ] as [([String], Int32, String)])
    func userErrors(arguments: [String], status: Int32, mention: String) throws {
        let output = try Self.generate(arguments)
        #expect(output.status == status, "stderr: \(output.stderr)")
        let lines = output.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(output.stderr)")
        #expect(output.stderr.contains(mention), "stderr: \(output.stderr)")
        #expect(output.stdout.isEmpty)
    }

    @Test("a failed write to standard output (a full disk) exits 74 with one line, in every output mode",
          .enabled(if: FileManager.default.fileExists(atPath: "/dev/full")), arguments: [
        ["--max-tokens", "5", "hi"],
        ["--max-tokens", "5", "--format", "json", "hi"],
        ["--tokenize", "hi"],
        ["--max-tokens", "2", "--batch", "BATCH"],
    ])
    func fullDisk(arguments: [String]) throws {
        let directory = try TestPaths.temporaryDirectory()
        let batch = directory.appendingPathComponent("customers.jsonl")
        try "\"hi\"\n\"ho\"\n".write(to: batch, atomically: true, encoding: .utf8)
        let full = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        defer { try? full.close() }
        let output = try Self.generate(arguments.map { $0 == "BATCH" ? batch.path : $0 }, stdoutFile: full)
        #expect(output.status == 74, "stderr: \(output.stderr)")
        #expect(output.stderr == "generate: error: standard output: No space left on device\n")
    }

    @Test("a prompt longer than the context exits 65 with a message")
    func promptTooLong() throws {
        let ids = Array(repeating: "13", count: 600).joined(separator: ",")
        let output = try Self.generate(["--prompt-ids", ids])
        #expect(output.status == 65)
        #expect(output.stderr.contains("600 tokens") && output.stderr.contains("512"))
    }

    @Test("a broken model directory exits 65 naming the file")
    func brokenModel() throws {
        let directory = try TestPaths.temporaryDirectory()
        try "{ not json".write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        let output = try Self.generate(["--model", directory.path, "hi"])
        #expect(output.status == 65)
        #expect(output.stderr.contains("config.json"))
    }

    @Test("a model directory missing its tokenizer or weights exits 66; truncated weights exit 65")
    func incompleteModelDirectory() throws {
        let directory = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent("config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        var output = try Self.generate(["--model", directory.path, "hi"])
        #expect(output.status == 66 && output.stderr.contains("no tokenizer files"), "\(output.stderr)")
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        output = try Self.generate(["--model", directory.path, "hi"])
        #expect(output.status == 66 && output.stderr.contains("no model.safetensors"), "\(output.stderr)")
        let weights = try Data(contentsOf: TestPaths.salesDemo.appendingPathComponent("model.safetensors"))
        try weights.prefix(1000).write(to: directory.appendingPathComponent("model.safetensors"))
        output = try Self.generate(["--model", directory.path, "hi"])
        #expect(output.status == 65 && output.stderr.contains("model.safetensors: header length"), "\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1)
    }

    @Test("--batch writes one JSON line per prompt, in order, each agreeing with a single run")
    func batchFile() throws {
        let examples = try SalesDemoCase.loadAll()
        let directory = try TestPaths.temporaryDirectory()
        let file = directory.appendingPathComponent("customers.jsonl")
        let lines = [try String(decoding: JSONSerialization.data(withJSONObject: examples[0].prompt, options: .fragmentsAllowed), as: UTF8.self),
                     "",
                     try String(decoding: JSONSerialization.data(withJSONObject: ["id": "c-42", "prompt": examples[1].prompt]), as: UTF8.self)]
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let output = try Self.generate(["--batch", file.path, "--temperature", "0", "-q"])
        #expect(output.status == 0, "\(output.stderr)")
        let objects = try output.stdout.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        for (i, object) in objects.enumerated() {
            #expect(object["index"] as? Int == i)
            #expect(object["prompt_ids"] as? [Int] == examples[i].prompt_ids)
            #expect(object["text"] as? String == examples[i].greedy_text)
        }
        #expect(objects[0]["line"] as? Int == 1 && objects[0]["id"] is NSNull)
        #expect(objects[1]["line"] as? Int == 3 && objects[1]["id"] as? String == "c-42")

        try "{\"name\": \"no prompt\"}\n".write(to: file, atomically: true, encoding: .utf8)
        let bad = try Self.generate(["--batch", file.path])
        #expect(bad.status == 65 && bad.stderr.contains("line 1"), "\(bad.stderr)")
        #expect(bad.stdout.isEmpty)
    }

    @Test("malformed or out-of-range --logit-bias values exit 64 with one line naming the flag", arguments: [
        "abc", "5", "5:", ":3", "5:3:1", "1.5:2", "5:x", "-1:2", "5:nan", "5:inf",
    ])
    func logitBiasErrors(value: String) throws {
        let output = try Self.generate(["--logit-bias", value, "hi"])
        #expect(output.status == 64, "stderr: \(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1, "stderr: \(output.stderr)")
        #expect(output.stderr.contains("--logit-bias"), "stderr: \(output.stderr)")
        #expect(output.stdout.isEmpty)
    }

    @Test("a --logit-bias id outside the model's vocabulary exits 64 with one line naming it")
    func logitBiasOutsideVocabulary() throws {
        let output = try Self.generate(["--logit-bias", "50257:1", "--max-tokens", "2", "hi"])
        #expect(output.status == 64)
        #expect(output.stderr.hasPrefix("generate: error: --logit-bias"), "stderr: \(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1, "stderr: \(output.stderr)")
        #expect(output.stderr.contains("50257"), "stderr: \(output.stderr)")
    }

    @Test("an empty --ban exits 64 naming the flag")
    func emptyBan() throws {
        let output = try Self.generate(["--ban", "", "hi"])
        #expect(output.status == 64, "stderr: \(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1 && output.stderr.contains("--ban"), "stderr: \(output.stderr)")
    }

    @Test("--ban keeps words out of the greedy pitch that names them without it")
    func banKeepsWordsOut() throws {
        // 30 tokens (debug builds generate slowly): the reference greedy pitch (what the first
        // test here prints) names the customer and cameras within them.
        let example = try SalesDemoCase.loadAll()[0]
        #expect(example.prompt.hasPrefix("Customer: Olivia Brown"))
        let unbanned = try Self.generate(["--temperature", "0", "--max-tokens", "30", "--format", "json", "-q", example.prompt])
        #expect(try Self.json(unbanned)["ids"] as? [Int] == Array(example.greedy_ids.prefix(30)))
        let unbannedText = try #require(try Self.json(unbanned)["text"] as? String)
        #expect(unbannedText.contains("camera") && unbannedText.contains("Olivia"))
        let banned = try Self.generate(["--temperature", "0", "--max-tokens", "30", "--ban", "camera", "--ban", "Olivia",
                                        "-q", example.prompt])
        #expect(banned.status == 0, "\(banned.stderr)")
        #expect(!banned.stdout.contains("camera") && !banned.stdout.contains("Olivia"), "\(banned.stdout)")
        #expect(banned.stdout.count > 40)
    }

    @Test("--logit-bias 100 forces a token and -100 bans one")
    func logitBiasForcesAndBans() throws {
        let example = try SalesDemoCase.loadAll()[0]
        let forced = try Self.generate(["--max-tokens", "3", "--seed", "1", "--logit-bias", "4676:100", "--format", "json", "-q", example.prompt])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Self.json(forced)["ids"] as? [Int] == [4676, 4676, 4676]) // " camera"
        // The greedy pitch starts " Hi Olivia" (15902, 33911); -100 on " Olivia" changes the second token.
        let banned = try Self.generate(["--temperature", "0", "--max-tokens", "2", "--logit-bias", "33911:-100",
                                        "--logit-bias", "4676:5", "--format", "json", "-q", example.prompt])
        #expect(banned.status == 0, "\(banned.stderr)")
        let ids = try #require(try Self.json(banned)["ids"] as? [Int])
        #expect(ids.first == 15902 && ids.count == 2 && ids[1] != 33911)
    }

    @Test("help shows the sampling defaults (the model's generation_config.json, else the library's) and the --logit-bias and --ban flags")
    func helpShowsDefaults() throws {
        let output = try Self.generate(["text", "--help"])
        #expect(output.status == 0)
        let help = output.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        let defaults = GenerationParameters()
        for (flag, value) in [("--max-tokens", "\(defaults.maxNewTokens)"), ("--temperature", "\(defaults.temperature)"),
                              ("--top-k", "\(defaults.topK)"), ("--top-p", "\(defaults.topP)"), ("--min-p", "\(defaults.minP)"),
                              ("--repetition-penalty", "\(defaults.repetitionPenalty)")] {
            let start = try #require(help.range(of: flag + " <", options: .backwards), "\(flag) in the options")
            let next = help[start.upperBound...].range(of: " --")?.lowerBound ?? help.endIndex
            #expect(help[start.upperBound..<next].contains("(default: the model's generation_config.json, else \(value)"),
                    "\(flag): \(help[start.upperBound..<next])")
        }
        #expect(help.contains("Sampling defaults come from the model's generation_config.json"))
        #expect(help.contains("--logit-bias <id:bias>"))
        #expect(help.contains("--ban <text>"))
    }

    @Test("generate --help lists the commands; generate text --help its options")
    func helpExitsZero() throws {
        let output = try Self.generate(["--help"])
        #expect(output.status == 0)
        for command in ["text", "pitch", "review"] { #expect(output.stdout.contains("  \(command) ")) }
        #expect(output.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
            .contains("Sampling defaults come from the model's generation_config.json where it sets them"))
        let text = try Self.generate(["text", "--help"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("--prompt-ids"))
    }
}

/// Model directories of degenerate size: files far larger than real ones, a header of a million
/// entries, weights the machine has no memory for.
extension GenerateCLITests {
    /// The demo model's directory, its files linked, with `name` replaced by a file of `size`
    /// bytes that takes no disk space (`{`, then a hole). A shard index replaces model.safetensors.
    static func demoModel(replacing name: String, size: Int) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for file in ["config.json", "generation_config.json", "model.safetensors", "vocab.json", "merges.txt"]
        where file != name && !(file == "model.safetensors" && name.hasSuffix(".index.json")) {
            try FileManager.default.createSymbolicLink(at: directory.file(file), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(file))
        }
        let handle = try FileHandle(forWritingTo: directory.write(name, "{"))
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size))
        return directory
    }

    @Test("a model or tokenizer file over its limit exits 65 with one line naming it, its size and the limit", arguments: [
        ("config.json", 4), ("generation_config.json", 1), ("model.safetensors.index.json", 16),
        ("vocab.json", 64), ("merges.txt", 64), ("tokenizer.json", 64),
    ])
    func modelFileOverItsLimit(name: String, megabytes: Int) throws {
        let size = 2 << 30
        let directory = try Self.demoModel(replacing: name, size: size)
        let output = try Self.generate(["--model", directory.path, "hi"])
        #expect(output.status == 65)
        #expect(output.stderr == "generate: error: \(directory.file(name).path): \(size) bytes, over the \(megabytes) MB limit for this file\n")
        #expect(output.stdout.isEmpty)
    }

    /// A model.safetensors whose header holds a million zero-size entries (70 MB of JSON), beside
    /// the demo model's config and tokenizer.
    static func millionEntryModel() throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for file in ["config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.file(file), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(file))
        }
        let entries = (0..<1_000_000).map { #""transformer.\#($0)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"# }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        _ = try directory.write("model.safetensors", bytes: withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header)
        return directory
    }

    /// Sanitizers reserve terabytes of address space, which no `ulimit -v` leaves room for.
    static let sanitized = ["ASAN_OPTIONS", "TSAN_OPTIONS"].contains { ProcessInfo.processInfo.environment[$0] != nil }

    /// `generate` with `arguments` under an address-space limit of `kilobytes` (and at most two
    /// malloc arenas, so that the process's own address space varies little with the machine).
    static func generate(_ arguments: [String], addressSpaceKB kilobytes: Int) throws -> CommandRunner.Output {
        let generate = CommandRunner.productsDirectory.appendingPathComponent("generate").path
        let command = ([generate] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try CommandRunner.runSystem("sh", ["-c", "ulimit -v \(kilobytes) && MALLOC_ARENA_MAX=2 exec \(command)"])
    }

    /// A float32 checkpoint of 1.05 GB, most of it `wte` (1 GB), as holes that take no disk space,
    /// and the address-space limit under which it is mapped and run but `wte` cannot be copied, as
    /// `--weights resident` does: the file's size and 768 MB more (a Swift process and its threads,
    /// not a second gigabyte).
    static func oversizedModel() throws -> (directory: TemporaryDirectory, limitKB: Int) {
        let directory = try TestPaths.temporaryDirectory()
        let (V, C, P) = (262_144, 1024, 8)
        _ = try directory.write("config.json", #"{"n_layer": 1, "n_head": 1, "n_embd": \#(C), "vocab_size": \#(V), "n_positions": \#(P)}"#)
        for file in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.file(file), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(file))
        }
        let shapes: [(String, [Int])] = [
            ("wte.weight", [V, C]), ("wpe.weight", [P, C]), ("h.0.ln_1.weight", [C]), ("h.0.ln_1.bias", [C]),
            ("h.0.attn.c_attn.weight", [C, 3 * C]), ("h.0.attn.c_attn.bias", [3 * C]), ("h.0.attn.c_proj.weight", [C, C]),
            ("h.0.attn.c_proj.bias", [C]), ("h.0.ln_2.weight", [C]), ("h.0.ln_2.bias", [C]), ("h.0.mlp.c_fc.weight", [C, 4 * C]),
            ("h.0.mlp.c_fc.bias", [4 * C]), ("h.0.mlp.c_proj.weight", [4 * C, C]), ("h.0.mlp.c_proj.bias", [C]),
            ("ln_f.weight", [C]), ("ln_f.bias", [C]),
        ]
        var offset = 0
        var header: [String: Any] = [:]
        for (name, shape) in shapes {
            let bytes = 4 * shape.reduce(1, *)
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        let size = 8 + json.count + offset
        let weights = try directory.write("model.safetensors", bytes: withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + Array(json))
        let handle = try FileHandle(forWritingTo: weights)
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        return (directory, (size + 768 << 20) / 1024)
    }

    // README's error table runs `text --weights resident` on this model; here the pitch workflow
    // too, and the same limit with the weights mapped, which must run.
    @Test("weights the machine has no memory for exit 74 from the pitch workflow too; mapped, they run", .disabled(if: sanitized))
    func weightsWithoutMemory() throws {
        let (directory, limitKB) = try Self.oversizedModel()
        let weights = directory.file("model.safetensors")
        let message = "generate: error: \(weights.path): cannot allocate \(4 * 262_144 * 1024) bytes for tensor \"wte.weight\" (after 0 bytes of other weights): not enough memory\n"
        let pitch = try Self.generate(["pitch", "--weights", "resident", "--name", "Olivia", "--product", "camera",
                                       "--model", directory.path, "--threads", "1"], addressSpaceKB: limitKB)
        #expect(pitch.status == 74, "\(pitch.stderr)")
        #expect(pitch.stderr == message)
        #expect(pitch.stdout.isEmpty)
        let mapped = try Self.generate(["--prompt-ids", "1", "--max-tokens", "1", "--temperature", "0", "-q",
                                        "--model", directory.path, "--threads", "1"], addressSpaceKB: limitKB)
        #expect(mapped.status == 0, "mapped: \(mapped.stderr)")
    }
}
