import Foundation
@testable import GPT2Tokenizer
import TestSupport

/// Files and shared objects of the tokenizer tests. Everything comes from the package itself
/// (never `../shared`), so the tests pass from a fresh clone.
enum TokenizerFixtures {
    /// The real GPT-2 `vocab.json` and `merges.txt`.
    static let gpt2Directory = TestPaths.salesDemo
    static let fixtures = TestPaths.fixtures.appendingPathComponent("tokenizer")

    /// The GPT-2 tokenizer, loaded once for all tests.
    static let loaded: Result<GPT2Tokenizer, any Error> = Result {
        try GPT2Tokenizer(vocabURL: gpt2Directory.appendingPathComponent("vocab.json"),
                          mergesURL: gpt2Directory.appendingPathComponent("merges.txt"))
    }

    static func gpt2() throws -> GPT2Tokenizer { try loaded.get() }

    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var ordinary_ids: [Int]?
    }

    /// `{text, ids}` pairs from a fixture file of this directory.
    static func cases(_ name: String) throws -> [Case] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// A fresh empty directory, removed when the returned object goes away.
    static func temporaryDirectory() throws -> TemporaryDirectory {
        try TemporaryDirectory(label: "gpt2-tokenizer-tests")
    }
}

/// A tiny byte-level vocabulary for loader tests: the 256 byte tokens (ids 0…255 in byte
/// order), then "he", "ll", "hell", "<|endoftext|>", with merges "h e", "l l", "he ll".
enum TinyVocabulary {
    static let extraTokens = ["he", "ll", "hell", "<|endoftext|>"]
    static let merges = ["h e", "l l", "he ll"]

    /// JSON string literal for a token spelling.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// vocab.json text, one token per line (line k + 2 holds id k), with `edit` applied to the entries.
    static func vocabJSON(_ edit: (inout [(String, String)]) -> Void = { _ in }) -> String {
        var entries: [(String, String)] = []
        for b in 0..<256 { entries.append((quoted(String(GPT2ByteEncoder.scalars[b])), "\(b)")) }
        for (i, t) in extraTokens.enumerated() { entries.append((quoted(t), "\(256 + i)")) }
        edit(&entries)
        return "{\n" + entries.map { "  \($0.0): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    static func mergesTXT(_ lines: [String] = merges) -> String {
        "#version: 0.2\n" + lines.map { $0 + "\n" }.joined()
    }

    /// A tokenizer.json with this vocabulary; merges as "a b" strings or as ["a", "b"] pairs.
    static func tokenizerJSON(pairs: Bool, model: String? = nil, preTokenizer: String? = nil,
                              normalizer: String = "null", mergeEntries: [String]? = nil) -> String {
        let mergeList = mergeEntries ?? merges.map { m -> String in
            let parts = m.split(separator: " ").map(String.init)
            return pairs ? "[\(quoted(parts[0])), \(quoted(parts[1]))]" : quoted(m)
        }
        let vocabulary = vocabJSON()
        return """
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [
            {"id": 259, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}
          ],
          "normalizer": \(normalizer),
          "pre_tokenizer": \(preTokenizer ?? #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#),
          "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {
            "type": \(model ?? "\"BPE\""),
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": false,
            "byte_fallback": false,
            "vocab": \(vocabulary.trimmingCharacters(in: .whitespacesAndNewlines)),
            "merges": [
              \(mergeList.joined(separator: ",\n      "))
            ]
          }
        }

        """
    }
}
