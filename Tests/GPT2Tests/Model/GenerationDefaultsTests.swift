import Foundation
import Testing
import TestSupport
@testable import GPT2

/// The sampling defaults of a checkpoint's `generation_config.json` become the model's defaults,
/// read as Hugging Face reads them; invalid ones are refused at load, naming the file and field.
@Suite struct GenerationDefaultsTests {
    static let prompt = EndOfTextTests.prompt

    /// The demo model with these fields added to its generation_config.json.
    static func model(_ fields: [String: Any]) throws -> TemporaryDirectory {
        try EndOfTextTests.demo(["generation_config.json": fields])
    }

    @Test("every field read, over the library's defaults; do_sample false is greedy whatever the temperature")
    func fieldsRead() throws {
        let directory = try Self.model(["do_sample": true, "temperature": 0.6, "top_k": 7, "top_p": 0.5, "min_p": 0.25,
                                        "repetition_penalty": 1.3, "max_new_tokens": 33, "stop_strings": ["\n", "!"]])
        let model = try GPT2Model(directory: directory.url)
        #expect(model.generationDefaults == GenerationDefaults(maxNewTokens: 33, temperature: 0.6, topK: 7, topP: 0.5, minP: 0.25,
                                                               repetitionPenalty: 1.3, stopSequences: ["\n", "!"]))
        var expected = GenerationParameters()
        (expected.maxNewTokens, expected.temperature, expected.topK, expected.topP, expected.minP) = (33, 0.6, 7, 0.5, 0.25)
        (expected.repetitionPenalty, expected.stopSequences) = (1.3, ["\n", "!"])
        #expect(model.defaultParameters == expected)

        let greedyDirectory = try Self.model(["do_sample": false, "temperature": 0.6, "top_k": 7])
        let greedy = try GPT2Model(directory: greedyDirectory.url)
        #expect(greedy.generationDefaults == GenerationDefaults(temperature: 0, topK: 7))
        #expect(greedy.defaultParameters.temperature == 0)
        // one stop string may be given alone, as Hugging Face allows
        let singleDirectory = try Self.model(["stop_strings": "."])
        let single = try GPT2Model(directory: singleDirectory.url)
        #expect(single.generationDefaults == GenerationDefaults(stopSequences: ["."]))
    }

    @Test("no sampling fields, no file, unknown fields and nulls: the library's defaults")
    func nothingSet() throws {
        let demo = try GPT2Model(directory: TestPaths.salesDemo)  // bos and eos only
        let none = try EndOfTextTests.demo([:], removing: ["generation_config.json"])
        let unknown = try Self.model(["num_beams": 4, "max_length": 20, "typical_p": 0.5, "my_setting": ["a": 1], "temperature": NSNull()])
        for model in [demo, try GPT2Model(directory: none.url), try GPT2Model(directory: unknown.url)] {
            #expect(model.generationDefaults == GenerationDefaults())
            #expect(model.defaultParameters == GenerationParameters())
        }
    }

    @Test("applied(to:) replaces only what the file sets")
    func appliedOverOtherDefaults() {
        let base = GenerationParameters(maxNewTokens: 150, temperature: 0.7, topK: 3, presencePenalty: 0.5, seed: 9,
                                        stopSequences: ["x"])
        #expect(GenerationDefaults().applied(to: base) == base)
        var expected = base
        (expected.temperature, expected.stopSequences) = (0, [])
        #expect(GenerationDefaults(temperature: 0, stopSequences: []).applied(to: base) == expected)
    }

    @Test("invalid values are refused at load, naming the file and the field",
          arguments: [
            ("temperature", "-1"), ("temperature", "true"), ("temperature", "\"0.7\""), ("temperature", "1e39"),
            ("top_p", "1.5"), ("top_p", "0"), ("top_p", "1e-50"), ("top_p", "false"), ("min_p", "2"), ("min_p", "-0.1"),
            ("top_k", "-1"), ("top_k", "2.5"), ("top_k", "1e30"), ("top_k", "true"),
            ("repetition_penalty", "0"), ("repetition_penalty", "\"high\""),
            ("max_new_tokens", "0"), ("max_new_tokens", "1e20"), ("max_new_tokens", "12.5"), ("max_new_tokens", "[10]"),
            ("do_sample", "1"), ("do_sample", "\"false\""), ("stop_strings", "5"), ("stop_strings", "[\"\"]"),
            ("stop_strings", "[\"a\", 1]"),
          ])
    func invalid(field: String, json: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let directory = try Self.model([field: value])
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
        #expect(error.file == directory.file("generation_config.json").path, "\(error)")
        #expect(error.kind == .invalidValue && error.detail.contains("\"\(field)\""), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test("a generator with no parameters uses the model's: greedy and 12 tokens, or the file's stop string")
    func generatorUsesThem() async throws {
        let plain = try TextGenerator(directory: TestPaths.salesDemo)
        let greedy = try await plain.generate(prompt: Self.prompt, parameters: GenerationParameters(maxNewTokens: 12, temperature: 0))
        let directory = try Self.model(["do_sample": false, "max_new_tokens": 12])
        let configured = try TextGenerator(directory: directory.url)
        #expect(configured.defaultParameters == GenerationParameters(maxNewTokens: 12, temperature: 0))
        for _ in 0..<2 {  // greedy: the same every time, where sampling would not be
            let result = try await configured.generate(prompt: Self.prompt)
            #expect(result.tokenIDs == greedy.tokenIDs && result.summary.stopReason == .maxTokens)
        }
        var streamed: [Int] = []
        for try await event in configured.stream(prompt: Self.prompt) {
            if case .token(let token) = event { streamed.append(token.id) }
        }
        #expect(streamed == greedy.tokenIDs)
        // parameters given win over the model's
        let sampled = try await configured.generate(prompt: Self.prompt, parameters: GenerationParameters(maxNewTokens: 5, seed: 1))
        let reference = try await plain.generate(prompt: Self.prompt, parameters: GenerationParameters(maxNewTokens: 5, seed: 1))
        #expect(sampled.tokenIDs == reference.tokenIDs)

        // the greedy pitch's first word ends with "!" (" Hi Olivia!"): the file's stop string cuts it there
        #expect(greedy.text.contains("!"), "\(greedy.text)")
        let stoppingDirectory = try Self.model(["do_sample": false, "stop_strings": "!"])
        let stopping = try TextGenerator(directory: stoppingDirectory.url)
        let cut = try await stopping.generate(prompt: Self.prompt)
        #expect(cut.summary.stopReason == .stopSequence && greedy.text.hasPrefix(cut.text) && !cut.text.contains("!"), "\(cut.text)")
    }
}
