import Foundation
import Testing
import TestSupport
@testable import GPT2

/// The tokens that end a text come from the checkpoint where it names them, as in Hugging Face's
/// `generate`: `generation_config.json`'s `eos_token_id`, else `config.json`'s.
@Suite struct EndOfTextTests {
    static let prompt = "Customer: Olivia Brown, 34, nurse. Interests: yoga, travel. Recently viewed high-end cameras.\nProduct: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:"

    /// The demo model's files, with `edit` applied to the named JSON files.
    static func demo(_ edits: [String: [String: Any]], removing removed: [String] = []) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for name in ["config.json", "generation_config.json", "vocab.json", "merges.txt", "model.safetensors"] where !removed.contains(name) {
            try FileManager.default.createSymbolicLink(at: directory.file(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        for (name, fields) in edits {
            var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.salesDemo.appendingPathComponent(name))) as? [String: Any])
            object.merge(fields) { _, new in new }
            try FileManager.default.removeItem(at: directory.file(name))
            try JSONSerialization.data(withJSONObject: object).write(to: directory.file(name))
        }
        return directory
    }

    static func greedy(_ directory: URL) async throws -> GenerationResult {
        try await TextGenerator(directory: directory).generate(prompt: prompt, parameters: GenerationParameters(maxNewTokens: 60, temperature: 0))
    }

    @Test("eos_token_id 13 (\".\") in generation_config.json, or in config.json alone, ends the pitch at its first full stop")
    func endOfTextFromTheCheckpoint() async throws {
        let whole = try await Self.greedy(TestPaths.salesDemo)
        let firstStop = try #require(whole.tokenIDs.firstIndex(of: 13), "\(whole.text)")
        for directory in [try Self.demo(["generation_config.json": ["eos_token_id": [13, 50256]]]),
                          try Self.demo(["config.json": ["eos_token_id": 13]], removing: ["generation_config.json"])] {
            let cut = try await Self.greedy(directory.url)
            #expect(cut.summary.stopReason == .endOfText)
            #expect(cut.tokenIDs == Array(whole.tokenIDs[...firstStop]))
            #expect(whole.text.hasPrefix(cut.text) && !cut.text.contains("."), "\(cut.text)")
        }
        // generation_config.json wins over config.json
        let both = try Self.demo(["generation_config.json": ["eos_token_id": 50256], "config.json": ["eos_token_id": 13]])
        #expect(try await Self.greedy(both.url).tokenIDs == whole.tokenIDs)
    }

    @Test("ids outside the vocabulary are left out, as Hugging Face does; ids that are not integers are refused, naming the file")
    func outsideTheVocabulary() async throws {
        let whole = try await Self.greedy(TestPaths.salesDemo)
        let outside = try Self.demo(["generation_config.json": ["eos_token_id": [60000, 13]]])
        #expect(try await Self.greedy(outside.url).tokenIDs.last == 13)
        let onlyOutside = try Self.demo(["generation_config.json": ["eos_token_id": 60000]])  // then <|endoftext|>
        #expect(try await Self.greedy(onlyOutside.url).tokenIDs == whole.tokenIDs)
        for (file, value) in [("generation_config.json", "x" as Any), ("config.json", [1.5] as Any), ("config.json", true as Any)] {
            let directory = try Self.demo([file: ["eos_token_id": value]])
            let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
            #expect(error.file == directory.file(file).path && error.detail.contains("eos_token_id"), "\(error)")
        }
    }
}
