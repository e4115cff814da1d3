import Foundation
import Testing
import TestSupport
@testable import GPT2

/// The prompt rules, which live once in the library and which the CLI uses as they are.
@Suite struct PromptTests {
    static let generator = Result { try TextGenerator(directory: TestPaths.salesDemo) }

    @Test("an empty prompt starts from <|endoftext|>, with or without a loaded model")
    func emptyPrompt() throws {
        let generator = try Self.generator.get()
        #expect(generator.promptTokens("") == [50256])
        #expect(TextGenerator.promptTokens("", tokenizer: generator.tokenizer) == [50256])
        #expect(TextGenerator.promptTokens("Hello, world!", tokenizer: generator.tokenizer) == [15496, 11, 995, 0])
    }

    @Test("checkPrompt refuses no tokens, ids outside the vocabulary and prompts longer than the context")
    func checkPrompt() async throws {
        let generator = try Self.generator.get()
        #expect(throws: GenerationError.emptyPrompt) { try generator.checkPrompt([]) }
        #expect(throws: GenerationError.invalidTokenID(50257, vocabularySize: 50257)) { try generator.checkPrompt([1, 50257]) }
        #expect(throws: GenerationError.invalidTokenID(-1, vocabularySize: 50257)) { try generator.checkPrompt([-1]) }
        #expect(throws: GenerationError.promptTooLong(tokens: 513, contextLength: 512)) {
            try generator.checkPrompt(Array(repeating: 13, count: 513))
        }
        try generator.checkPrompt(Array(repeating: 13, count: 512))
        // generation applies the same check before anything runs
        await #expect(throws: GenerationError.invalidTokenID(60000, vocabularySize: 50257)) {
            _ = try await generator.generate(promptTokenIDs: [60000], parameters: .greedy)
        }
    }
}
