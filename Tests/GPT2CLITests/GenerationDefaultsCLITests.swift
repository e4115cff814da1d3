import Foundation
import Testing
import TestSupport
@testable import GPT2

/// `generate` takes its sampling defaults from the model's generation_config.json: every flag not
/// given, every field a server request leaves out; a flag or field given wins.
@Suite struct GenerationDefaultsCLITests {
    static let prompt = ServeCLITests.prompt

    /// The demo model, with `generation_config.json` holding `fields` besides its own (or `raw`
    /// text in its place).
    static func demo(_ fields: [String: Any] = [:], raw: String? = nil) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for name in ["config.json", "vocab.json", "merges.txt", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: directory.file(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.salesDemo.appendingPathComponent("generation_config.json"))) as? [String: Any])
        object.merge(fields) { _, new in new }
        try (raw.map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: object)).write(to: directory.file("generation_config.json"))
        return directory
    }

    /// `generate text` in JSON: the token ids, stop reason and exit status.
    static func ids(_ arguments: [String]) throws -> (ids: [Int], stop: String, status: Int32, stderr: String) {
        let output = try CommandRunner.run("generate", ["text", "--format", "json", "-q"] + arguments + [prompt])
        guard output.status == 0 else { return ([], "", output.status, output.stderr) }
        let object = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [String: Any])
        return (try #require(object["ids"] as? [Int]), try #require(object["stop_reason"] as? String), 0, output.stderr)
    }

    @Test("do_sample false makes generate greedy, as --temperature 0 is; an explicit --temperature wins")
    func doSampleFalse() throws {
        let model = try Self.demo(["do_sample": false])
        let greedy = try Self.ids(["--temperature", "0", "--max-tokens", "25"])
        #expect(greedy.status == 0 && greedy.ids.count == 25, "\(greedy.stderr)")
        for _ in 0..<2 {  // without --seed, sampling would differ from run to run
            let run = try Self.ids(["--model", model.path, "--max-tokens", "25"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.ids == greedy.ids)
        }
        let sampled = try Self.ids(["--model", model.path, "--temperature", "1.5", "--seed", "3", "--max-tokens", "25"])
        let plain = try Self.ids(["--temperature", "1.5", "--seed", "3", "--max-tokens", "25"])
        #expect(sampled.status == 0 && sampled.ids == plain.ids)
        #expect(sampled.ids != greedy.ids)
    }

    @Test("max_new_tokens, top_k and stop_strings stand in for --max-tokens, --top-k and --stop until those are given")
    func otherFields() throws {
        let model = try Self.demo(["max_new_tokens": 9, "top_k": 1, "temperature": 1.5])
        // top_k 1 keeps only the most likely token: greedy, whatever the seed
        let greedy = try Self.ids(["--temperature", "0", "--max-tokens", "9"])
        let configured = try Self.ids(["--model", model.path, "--seed", "5"])
        #expect(configured.status == 0, "\(configured.stderr)")
        #expect(configured.ids == greedy.ids && configured.stop == "length")
        let flags = try Self.ids(["--model", model.path, "--seed", "5", "--top-k", "0", "--max-tokens", "4"])
        let plain = try Self.ids(["--seed", "5", "--top-k", "0", "--temperature", "1.5", "--max-tokens", "4"])
        #expect(flags.ids == plain.ids && flags.ids.count == 4)

        // the greedy pitch starts " Hi Olivia! You viewed": the file's "!" ends it there, --stop replaces it
        let stopping = try Self.demo(["do_sample": false, "stop_strings": ["!"]])
        let cut = try CommandRunner.run("generate", ["--model", stopping.path, "-q", Self.prompt])
        #expect(cut.status == 0 && cut.stdout == " Hi Olivia\n", "\(cut.stdout) \(cut.stderr)")
        let replaced = try CommandRunner.run("generate", ["--model", stopping.path, "--stop", "You", "-q", Self.prompt])
        #expect(replaced.stdout == " Hi Olivia! \n", "\(replaced.stdout)")
    }

    @Test("an invalid generation_config.json exits 65 with one line naming the file and the field",
          arguments: [("top_p", "1.5"), ("temperature", "true"), ("do_sample", "1"), ("max_new_tokens", "-3"), ("stop_strings", "[3]")])
    func invalidFile(field: String, json: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let model = try Self.demo([field: value])
        for arguments in [["text", "--model", model.path, "hi"], ["pitch", "--model", model.path, "--name", "Olivia", "--product", "camera"]] {
            let output = try CommandRunner.run("generate", arguments)
            #expect(output.status == 65, "\(output.stderr)")
            let lines = output.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("generate: error: \(model.file("generation_config.json").path): field \"\(field)\""),
                    "\(output.stderr)")
        }
    }

    @Test("generation_config.json that is not JSON (NaN is not JSON) exits 65 naming the file")
    func notJSON() throws {
        let model = try Self.demo(raw: #"{"temperature": NaN}"#)
        let output = try CommandRunner.run("generate", ["--model", model.path, "hi"])
        #expect(output.status == 65 && output.stderr == "generate: error: \(model.file("generation_config.json").path): not a JSON object\n",
                "\(output.stderr)")
    }

    @Test("generate pitch: the model's do_sample false draws once, greedily; its max_new_tokens bounds the pitch")
    func pitch() throws {
        let model = try Self.demo(["do_sample": false, "max_new_tokens": 12])
        let flags = ["--name", "Olivia Brown", "--product", "AuroraShot X2 mirrorless camera"]
        let configured = try CommandRunner.run("generate", ["pitch", "--model", model.path] + flags)
        let greedy = try CommandRunner.run("generate", ["pitch", "--temperature", "0", "--max-tokens", "12"] + flags)
        #expect(configured.status == 0 && greedy.status == 0, "\(configured.stderr)")
        #expect(configured.stdout == greedy.stdout && !configured.stdout.isEmpty)
        #expect(configured.stderr.contains("draws 1 | 12 tokens"), "\(configured.stderr)")
        // flags win: two draws at most 20 tokens each
        let flagged = try CommandRunner.run("generate", ["pitch", "--model", model.path, "--temperature", "0.9", "--max-tokens", "20",
                                                         "--attempts", "2", "--seed", "1"] + flags)
        #expect(flagged.status == 0 && flagged.stderr.contains("draws 2"), "\(flagged.stderr)")
    }

    @Test("generate serve: a request without temperature or max_tokens gets the model's; fields given win")
    func serve() async throws {
        let model = try Self.demo(["do_sample": false, "max_new_tokens": 6])
        let server = try ServeCLITests.Server(["--model", model.path])
        defer { #expect(server.stop() == 0) }
        let name = model.lastPathComponent
        let library = try TextGenerator(directory: TestPaths.salesDemo)
        let greedy = try await library.generate(prompt: Self.prompt, parameters: GenerationParameters(maxNewTokens: 6, temperature: 0))
        for _ in 0..<2 {
            let (status, body) = try await server.complete(["model": name, "prompt": Self.prompt])
            let choice = try #require((body?["choices"] as? [[String: Any]])?.first, "\(status) \(String(describing: body))")
            #expect(choice["text"] as? String == greedy.text && choice["finish_reason"] as? String == "length")
            #expect((body?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 6)
        }
        // given fields win; those left out that the file does not set keep the API's defaults (top_p 1, no top-k)
        let (_, body) = try await server.complete(["model": name, "prompt": Self.prompt, "temperature": 1.2, "seed": 8, "max_tokens": 10])
        let sampled = try await library.generate(prompt: Self.prompt, parameters: GenerationParameters(
            maxNewTokens: 10, temperature: 1.2, topK: 0, topP: 1, minP: 0, seed: 8))
        #expect((body?["choices"] as? [[String: Any]])?.first?["text"] as? String == sampled.text)
        #expect(sampled.text != greedy.text)
    }
}
