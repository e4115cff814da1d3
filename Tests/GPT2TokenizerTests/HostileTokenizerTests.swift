import Foundation
import Testing
import TestSupport
@testable import GPT2Tokenizer

/// Tokenizer files from an untrusted checkpoint: nothing is sized by an unchecked number from
/// the file, and nothing a file says makes loading or encoding crash.
@Suite struct HostileTokenizerTests {
    /// TinyVocabulary's tokenizer.json (260 tokens, `<|endoftext|>` = 259) with `added` as its
    /// added tokens.
    static func tokenizerJSON(added: String) -> String {
        let json = TinyVocabulary.tokenizerJSON(pairs: true)
        let start = json.range(of: #""added_tokens": ["#)!
        let end = json.range(of: "],", range: start.upperBound..<json.endIndex)!
        return json.replacingCharacters(in: start.upperBound..<end.lowerBound, with: added)
    }

    static func load(_ json: String) throws -> GPT2Tokenizer {
        let definition = try TokenizerFileReader.parseTokenizerJSON(Array(json.utf8), file: "tokenizer.json")
        return GPT2Tokenizer(tables: try GPT2Tokenizer.Tables(definition))
    }

    static let endOfText = #"{"id": 259, "content": "<|endoftext|>", "special": true}"#

    /// An added token's id used to be accepted up to 2^24, and the id table is laid out up to the
    /// largest id: a 200-byte file made the loader allocate and fill 16 million entries. New ids
    /// now follow the vocabulary, at most one per added token.
    @Test(arguments: [16_777_215, 1 << 24, 262, 100_000, Int.max])
    func addedTokenIDFarBeyondTheVocabulary(_ id: Int) {
        let json = Self.tokenizerJSON(added: Self.endOfText + #", {"id": \#(id), "content": "<|far|>", "special": true}"#)
        let error = tokenizerError { _ = try Self.load(json) }
        #expect(error?.kind == .invalidVocabulary, "\(String(describing: error))")
        #expect(error?.message.contains("out of range") == true)
    }

    @Test func addedTokenIDsRightAfterTheVocabularyLoad() throws {
        // 260 and 261: the largest ids two added tokens beyond 260 vocabulary tokens can take.
        let json = Self.tokenizerJSON(added: Self.endOfText + #", {"id": 261, "content": "<|b|>"}, {"id": 260, "content": "<|a|>"}"#)
        let tokenizer = try Self.load(json)
        #expect(tokenizer.vocabularySize == 262)
        #expect(tokenizer.encode("x<|b|><|a|>") == [120, 261, 260])
    }

    @Test(arguments: [-1, Int.min])
    func negativeAddedTokenID(_ id: Int) {
        let json = Self.tokenizerJSON(added: Self.endOfText + #", {"id": \#(id), "content": "<|neg|>"}"#)
        #expect(tokenizerError { _ = try Self.load(json) }?.kind == .invalidVocabulary)
    }

    /// Many added tokens: de-duplicating them used to compare each with all earlier ones.
    @Test func manyAddedTokensLoadAndMatch() throws {
        let count = 20_000
        var added = [Self.endOfText]
        for i in 0..<count { added.append(#"{"id": \#(260 + i), "content": "<|t\#(i)|>", "special": true}"#) }
        let tokenizer = try Self.load(Self.tokenizerJSON(added: added.joined(separator: ", ")))
        #expect(tokenizer.vocabularySize == 260 + count)
        #expect(tokenizer.encode("<|t0|><|t19999|>x") == [260, 260 + 19_999, 120])
        #expect(tokenizer.decode([260 + 12_345]) == "<|t12345|>")
    }

    /// Vocabulary ids are checked before they index anything.
    @Test(arguments: ["-1", "260", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "1.0", "1e2", "\"1\"", "null"])
    func badVocabularyID(_ id: String) {
        let vocab = TinyVocabulary.vocabJSON { entries in entries[5].1 = id }
        let error = tokenizerError {
            var d = GPT2TokenizerDefinition(vocabularyFile: "vocab.json", mergesFile: "merges.txt", vocabularyName: "vocab.json")
            d.vocabulary = try TokenizerFileReader.parseVocabJSON(Array(vocab.utf8), file: "vocab.json")
            d.merges = try TokenizerFileReader.parseMergesTXT(Array(TinyVocabulary.mergesTXT().utf8), file: "merges.txt")
            _ = try GPT2Tokenizer.Tables(d)
        }
        #expect(error?.kind == .invalidVocabulary, "\(id): \(String(describing: error))")
    }

    @Test func deeplyNestedJSONIsAnErrorNotAStackOverflow() {
        for text in [String(repeating: "[", count: 100_000), String(repeating: #"{"a":"#, count: 100_000)] {
            let error = tokenizerError { _ = try TokenizerFileReader.parseTokenizerJSON(Array(text.utf8), file: "tokenizer.json") }
            #expect(error?.kind == .invalidJSON)
            #expect(error?.message.contains("nested") == true)
        }
    }

    @Test(arguments: [[UInt8](), [0xEF, 0xBB, 0xBF], [0x22], [0x22, 0x5C], [0x22, 0x5C, 0x75, 0x44, 0x38], [0x2D], [0x31, 0x65],
                      [0x22, 0xF0, 0x9F], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x74, 0x72], [0x5B, 0x31, 0x2C]])
    func truncatedJSON(_ bytes: [UInt8]) {
        #expect(tokenizerError { _ = try TokenizerFileReader.parseVocabJSON(bytes, file: "vocab.json") }?.kind == .invalidJSON)
    }

    /// merges.txt lines that are not two tokens.
    @Test(arguments: ["a", " a", "a ", "a  b", "a b c", "\u{0}", " ", "\r\r"])
    func badMergeLines(_ line: String) {
        let error = tokenizerError { _ = try TokenizerFileReader.parseMergesTXT(Array((line + "\n").utf8), file: "merges.txt") }
        #expect(error?.kind == .invalidMerges, "\(line.debugDescription): \(String(describing: error))")
    }
}

/// The `TokenizerError` that `body` must throw.
private func tokenizerError(sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () throws -> Void) -> TokenizerError? {
    thrownError(TokenizerError.self, sourceLocation: sourceLocation, body)
}
