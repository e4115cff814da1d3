import Foundation
import Testing
@testable import GPT2Tokenizer
import TestSupport

/// Loading the three file formats, and clear errors (file and line) for bad files.
@Suite struct TokenizerLoadingTests {
    // MARK: Good files

    /// The full GPT-2 vocabulary and merges rewritten as a Hugging Face tokenizer.json, with merges
    /// in both the "a b" and the ["a", "b"] forms: same ids as vocab.json + merges.txt.
    @Test(arguments: [false, true])
    func fullTokenizerJSONMatchesVocabAndMerges(pairs: Bool) throws {
        let reference = try TokenizerFixtures.gpt2()
        let vocab = try String(contentsOf: TokenizerFixtures.gpt2Directory.appendingPathComponent("vocab.json"), encoding: .utf8)
        let mergeLines = try String(contentsOf: TokenizerFixtures.gpt2Directory.appendingPathComponent("merges.txt"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map(String.init)
        let mergesJSON: Any = pairs ? mergeLines.map { $0.split(separator: " ").map(String.init) } : mergeLines
        let merges = String(decoding: try JSONSerialization.data(withJSONObject: mergesJSON), as: UTF8.self)
        let json = """
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": true, "special": true}],
         "normalizer": null,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
         "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
         "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                   "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                   "vocab": \(vocab), "merges": \(merges)}}
        """
        let dir = try TokenizerFixtures.temporaryDirectory()
        try dir.write("tokenizer.json", json)
        // A directory with tokenizer.json uses it (the vocab.json here would not even load).
        try dir.write("vocab.json", "not json")
        let tokenizer = try GPT2Tokenizer(directory: dir.url)
        #expect(tokenizer.vocabularySize == reference.vocabularySize)
        #expect(tokenizer.endOfTextID == 50256)
        for c in try TokenizerFixtures.cases("cases.json") {
            #expect(tokenizer.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect(tokenizer.decode(c.ids) == c.text)
        }
    }

    @Test func directoryWithVocabAndMerges() throws {
        let tokenizer = try GPT2Tokenizer(directory: TokenizerFixtures.gpt2Directory)
        #expect(tokenizer.encode("Hello, world!") == [15496, 11, 995, 0])
    }

    @Test(arguments: [false, true])
    func tinyTokenizerJSON(pairs: Bool) throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        let url = try dir.write("tokenizer.json", TinyVocabulary.tokenizerJSON(pairs: pairs))
        let tokenizer = try GPT2Tokenizer(tokenizerJSONURL: url)
        #expect(tokenizer.vocabularySize == 260)
        #expect(tokenizer.endOfTextID == 259)
        #expect(tokenizer.encode("hello<|endoftext|>") == [258, Int(UInt8(ascii: "o")), 259])
        #expect(tokenizer.decode([258, 111, 259]) == "hello<|endoftext|>")
    }

    @Test func tinyVocabAndMerges() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        try dir.write("vocab.json", TinyVocabulary.vocabJSON())
        try dir.write("merges.txt", TinyVocabulary.mergesTXT())
        let tokenizer = try GPT2Tokenizer(directory: dir.url)
        #expect(tokenizer.encode("hello hell") == [258, 111, 32, 258])
        #expect(tokenizer.encode("<|endoftext|>") == [259])
        // Windows line endings and blank lines in merges.txt are accepted.
        try dir.write("merges.txt", "#version: 0.2\r\nh e\r\n\r\nl l\r\nhe ll\r\n")
        #expect(try GPT2Tokenizer(directory: dir.url).encode("hello") == [258, 111])
    }

    /// A vocabulary token that no merge builds is never produced, even for a piece equal to it:
    /// the whole-piece shortcut only holds tokens that BPE rebuilds from their own bytes.
    @Test func tokensThatNoMergeBuildsAreNotTakenWhole() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        try dir.write("vocab.json", TinyVocabulary.vocabJSON { $0.append(("\"xy\"", "260")) })
        try dir.write("merges.txt", TinyVocabulary.mergesTXT())
        let tokenizer = try GPT2Tokenizer(directory: dir.url)
        #expect(tokenizer.vocabularySize == 261)
        #expect(tokenizer.encode("xy") == [120, 121])
        #expect(tokenizer.encode("hell") == [258])
        #expect(tokenizer.decode([260]) == "xy")
    }

    /// Added tokens beyond the model vocabulary get new ids.
    @Test func addedTokenBeyondTheVocabulary() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        let json = TinyVocabulary.tokenizerJSON(pairs: true).replacingOccurrences(
            of: #"{"id": 259, "content": "<|endoftext|>""#,
            with: #"{"id": 260, "content": "<|pad|>", "special": true}, {"id": 259, "content": "<|endoftext|>""#)
        let url = try dir.write("tokenizer.json", json)
        let tokenizer = try GPT2Tokenizer(tokenizerJSONURL: url)
        #expect(tokenizer.vocabularySize == 261)
        #expect(tokenizer.encode("a<|pad|>") == [97, 260])
        #expect(tokenizer.encode("a<|pad|>", allowSpecialTokens: false).count > 2)
        #expect(tokenizer.decode([260]) == "<|pad|>")
        #expect(tokenizer.tokenString(260) == "<|pad|>")
    }

    // MARK: Errors

    /// Loads vocab.json + merges.txt from the given texts and returns the error.
    func loadError(vocab: String, merges: String = TinyVocabulary.mergesTXT()) throws -> TokenizerError {
        let dir = try TokenizerFixtures.temporaryDirectory()
        try dir.write("vocab.json", vocab)
        try dir.write("merges.txt", merges)
        do {
            _ = try GPT2Tokenizer(vocabURL: dir.file("vocab.json"), mergesURL: dir.file("merges.txt"))
        } catch let error as TokenizerError {
            return error
        }
        Issue.record("expected an error")
        return TokenizerError(.unreadableFile, file: "", "no error")
    }

    func tokenizerJSONError(_ json: String) throws -> TokenizerError {
        let dir = try TokenizerFixtures.temporaryDirectory()
        let url = try dir.write("tokenizer.json", json)
        do {
            _ = try GPT2Tokenizer(tokenizerJSONURL: url)
        } catch let error as TokenizerError {
            return error
        }
        Issue.record("expected an error")
        return TokenizerError(.unreadableFile, file: "", "no error")
    }

    /// Line (1-based) of the first occurrence of `needle` in `text`.
    func line(of needle: String, in text: String) -> Int {
        let range = text.range(of: needle)!
        return text[..<range.lowerBound].filter { $0 == "\n" || $0 == "\r\n" }.count + 1
    }

    @Test func missingFiles() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        do {
            _ = try GPT2Tokenizer(directory: dir.url)
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.kind == .fileNotFound)
            #expect(error.file == dir.url.path)
            #expect(error.description.contains("tokenizer.json"))
        }
        try dir.write("vocab.json", TinyVocabulary.vocabJSON())
        do {
            _ = try GPT2Tokenizer(directory: dir.url)
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.kind == .fileNotFound)
            #expect(error.file.hasSuffix("merges.txt"))
            #expect(error.description.hasSuffix("merges.txt: file not found"))
        }
        do {
            _ = try GPT2Tokenizer(directory: dir.url.appendingPathComponent("nope"))
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.description.hasSuffix("nope: directory not found"))
        }
        do {
            _ = try GPT2Tokenizer(directory: dir.url.appendingPathComponent("vocab.json"))  // a file
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.description.contains("vocab.json: not a directory"))
        }
        #expect(throws: TokenizerError.self) {
            try GPT2Tokenizer(tokenizerJSONURL: dir.url)  // a directory
        }
    }

    @Test func syntaxErrorNamesTheLine() throws {
        var vocab = TinyVocabulary.vocabJSON()
        vocab = vocab.replacingOccurrences(of: "\"he\": 256,", with: "\"he\": 256")  // missing comma
        let error = try loadError(vocab: vocab)
        #expect(error.kind == .invalidJSON)
        #expect(error.file.hasSuffix("vocab.json"))
        #expect(error.line == line(of: "\"ll\"", in: vocab))
        #expect(error.description.contains("vocab.json, line \(error.line!): invalid JSON"))
    }

    @Test func badVocabularyEntries() throws {
        // Line k + 2 of the tiny vocab.json holds id k.
        var e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[10].1 = "\"ten\"" })
        #expect(e.kind == .invalidVocabulary && e.line == 12 && e.message.contains("must be an integer"))

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[10].1 = "10.5" })
        #expect(e.kind == .invalidVocabulary && e.line == 12)

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[20].1 = "10" })
        #expect(e.kind == .invalidVocabulary && e.line == 22 && e.message.contains("id 10 is given to both"))

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[30].1 = "100000" })
        #expect(e.kind == .invalidVocabulary && e.line == 32 && e.message.contains("out of range"))

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[30].1 = "-1" })
        #expect(e.kind == .invalidVocabulary && e.line == 32 && e.message.contains("negative"))

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[30].1 = "99999999999999999999999" })
        #expect(e.kind == .invalidVocabulary && e.line == 32)

        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[257].0 = "\"he\"" })
        #expect(e.kind == .invalidVocabulary && e.line == 259 && e.message.contains("appears twice"))

        // A missing byte token (0x41 "A" renamed).
        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[0x41].0 = "\"AA\"" })
        #expect(e.kind == .invalidVocabulary && e.message.contains("no token for byte 0x41"))

        // No <|endoftext|>.
        e = try loadError(vocab: TinyVocabulary.vocabJSON { $0[259].0 = "\"<|eos|>\"" })
        #expect(e.kind == .invalidVocabulary && e.message.contains("<|endoftext|>"))

        e = try loadError(vocab: "[1, 2, 3]")
        #expect(e.kind == .invalidVocabulary && e.line == 1)

        e = try loadError(vocab: "")
        #expect(e.kind == .invalidJSON && e.line == 1)

        e = try loadError(vocab: "{}")
        #expect(e.kind == .invalidVocabulary)

        e = try loadError(vocab: "{\n\"a\": 0,\n\"b\u{1}\": 1}")
        #expect(e.kind == .invalidJSON && e.line == 3)

        e = try loadError(vocab: "{\n\n\"\\ud800\": 0}")
        #expect(e.kind == .invalidJSON && e.line == 3 && e.message.contains("surrogate"))

        e = try loadError(vocab: String(repeating: "[", count: 100_000))
        #expect(e.kind == .invalidJSON)
    }

    @Test func invalidUTF8InVocabulary() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        var bytes = Array(TinyVocabulary.vocabJSON().utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "h"))!  // the token "h": id 0x68, line 0x68 + 2
        bytes[at] = 0xFF
        try dir.write("vocab.json", bytes: bytes)
        try dir.write("merges.txt", TinyVocabulary.mergesTXT())
        #expect {
            try GPT2Tokenizer(directory: dir.url)
        } throws: { error in
            guard let e = error as? TokenizerError else { return false }
            return e.kind == .invalidJSON && e.line == 0x68 + 2 && e.message.contains("UTF-8")
        }
    }

    @Test func badMerges() throws {
        let vocab = TinyVocabulary.vocabJSON()
        // Lines: 1 "#version", 2 "h e", 3 "l l", 4 the bad one.
        var e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "he ll o"]))
        #expect(e.kind == .invalidMerges && e.line == 4 && e.file.hasSuffix("merges.txt"))
        #expect(e.description.contains("merges.txt, line 4: expected two tokens separated by one space, found 3"))

        e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "hell"]))
        #expect(e.kind == .invalidMerges && e.line == 4)

        e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "h  e"]))
        #expect(e.kind == .invalidMerges && e.line == 4)

        e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "xyz e"]))
        #expect(e.kind == .invalidMerges && e.line == 4 && e.message.contains("unknown token \"xyz\""))

        e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "h xyz"]))
        #expect(e.kind == .invalidMerges && e.line == 4 && e.message.contains("unknown token \"xyz\""))

        e = try loadError(vocab: vocab, merges: TinyVocabulary.mergesTXT(["h e", "l l", "he l"]))
        #expect(e.kind == .invalidMerges && e.line == 4 && e.message.contains("merged token \"hel\""))
    }

    @Test func badTokenizerJSON() throws {
        var json = TinyVocabulary.tokenizerJSON(pairs: false, model: "\"WordPiece\"")
        var e = try tokenizerJSONError(json)
        #expect(e.kind == .unsupported && e.line == line(of: "\"WordPiece\"", in: json) && e.file.hasSuffix("tokenizer.json"))

        json = TinyVocabulary.tokenizerJSON(pairs: false, normalizer: #"{"type": "NFC"}"#)
        e = try tokenizerJSONError(json)
        #expect(e.kind == .unsupported && e.line == line(of: "\"NFC\"", in: json))

        json = TinyVocabulary.tokenizerJSON(pairs: false, preTokenizer: #"{"type": "Whitespace"}"#)
        e = try tokenizerJSONError(json)
        #expect(e.kind == .unsupported && e.message.contains("Whitespace"))

        json = TinyVocabulary.tokenizerJSON(pairs: false, preTokenizer: #"{"type": "ByteLevel", "add_prefix_space": true}"#)
        e = try tokenizerJSONError(json)
        #expect(e.kind == .unsupported && e.message.contains("add_prefix_space"))

        // options that would change the ids or the text: refused, naming the option
        let base = TinyVocabulary.tokenizerJSON(pairs: false)
        for (from, to, mention) in [
            (#""dropout": null"#, #""dropout": 0.1"#, "dropout"),
            (#""post_processor": {"type": "ByteLevel""#, #""post_processor": {"type": "TemplateProcessing""#, "TemplateProcessing"),
            (#""decoder": {"type": "ByteLevel""#, #""decoder": {"type": "WordPiece""#, "WordPiece"),
        ] {
            #expect(base.contains(from))
            e = try tokenizerJSONError(base.replacingOccurrences(of: from, with: to))
            #expect(e.kind == .unsupported && e.message.contains(mention), "\(e.message)")
        }
        // ... and the ones GPT-2's files may carry: accepted
        let plain = base.replacingOccurrences(of: #""dropout": null"#, with: #""dropout": 0"#)
            .replacingOccurrences(of: #""post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}"#, with: #""post_processor": null"#)
        #expect(plain != base)
        let plainDirectory = try TokenizerFixtures.temporaryDirectory()  // kept until the end: it deletes itself
        #expect(try GPT2Tokenizer(tokenizerJSONURL: plainDirectory.write("tokenizer.json", plain)).vocabularySize == 260)

        json = TinyVocabulary.tokenizerJSON(pairs: false, preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false}]}"#)
        let dir = try TokenizerFixtures.temporaryDirectory()
        #expect(try GPT2Tokenizer(tokenizerJSONURL: dir.write("tokenizer.json", json)).vocabularySize == 260)

        json = TinyVocabulary.tokenizerJSON(pairs: true, mergeEntries: [#"["h", "e"]"#, #"["l", "l"]"#, #"["he"]"#])
        e = try tokenizerJSONError(json)
        #expect(e.kind == .invalidMerges && e.line == line(of: #"["he"]"#, in: json))

        json = TinyVocabulary.tokenizerJSON(pairs: true, mergeEntries: [#"["h", "e"]"#, #""l l""#, #"["he", "q"]"#])
        e = try tokenizerJSONError(json)
        #expect(e.kind == .invalidMerges && e.line == line(of: #"["he", "q"]"#, in: json) && e.message.contains("merged token"))

        json = TinyVocabulary.tokenizerJSON(pairs: true, mergeEntries: ["42"])
        e = try tokenizerJSONError(json)
        #expect(e.kind == .invalidMerges)

        // The added token's id belongs to another vocabulary token.
        json = TinyVocabulary.tokenizerJSON(pairs: true).replacingOccurrences(of: #""id": 259"#, with: #""id": 258"#)
        e = try tokenizerJSONError(json)
        #expect(e.kind == .invalidVocabulary && e.line == line(of: #""id": 258"#, in: json))

        // Truncated file.
        let full = TinyVocabulary.tokenizerJSON(pairs: true)
        json = String(full.prefix(full.count / 2))
        e = try tokenizerJSONError(json)
        #expect(e.kind == .invalidJSON && e.message.contains("end of file"))

        e = try tokenizerJSONError(#"{"model": {"type": "BPE", "vocab": {}}}"#)
        #expect(e.kind == .invalidMerges || e.kind == .invalidVocabulary)
    }

    /// Random damage to good files: loading either works or throws, never crashes.
    @Test func damagedFilesNeverCrash() throws {
        let dir = try TokenizerFixtures.temporaryDirectory()
        let vocab = Array(TinyVocabulary.vocabJSON().utf8)
        let merges = Array(TinyVocabulary.mergesTXT().utf8)
        let json = Array(TinyVocabulary.tokenizerJSON(pairs: true).utf8)
        var rng = TestRandom(seed: 13)
        let noise: [UInt8] = Array("{}[]\",:0123456789 \n\\u-.eE".utf8) + [0x00, 0x80, 0xFF, 0xE4]
        func damage(_ bytes: [UInt8]) -> [UInt8] {
            var b = bytes
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
            case 1:
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !b.isEmpty {
                    b[Int.random(in: 0..<b.count, using: &rng)] = noise.randomElement(using: &rng)!
                }
            default:
                if !b.isEmpty { b.remove(at: Int.random(in: 0..<b.count, using: &rng)) }
            }
            return b
        }
        var failures = 0
        for trial in 0..<150 {
            do {
                if trial % 2 == 0 {
                    try dir.write("vocab.json", bytes: damage(vocab))
                    try dir.write("merges.txt", bytes: trial % 4 == 0 ? damage(merges) : merges)
                    let t = try GPT2Tokenizer(vocabURL: dir.file("vocab.json"), mergesURL: dir.file("merges.txt"))
                    _ = t.decode(t.encode("hello world 中文"))
                } else {
                    let t = try GPT2Tokenizer(tokenizerJSONURL: dir.write("tokenizer.json", bytes: damage(json)))
                    _ = t.decode(t.encode("hello world 中文"))
                }
            } catch let error as TokenizerError {
                failures += 1
                #expect(!error.file.isEmpty)
                #expect(error.description.contains(error.file))
            }
        }
        #expect(failures > 50)
    }
}
