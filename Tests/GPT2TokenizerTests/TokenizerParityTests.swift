import Foundation
import Testing
@testable import GPT2Tokenizer
import TestSupport

/// Token-for-token parity with the reference (tiktoken's GPT-2 encoding, itself checked equal to
/// Hugging Face `tokenizers` on the same files).
@Suite struct TokenizerParityTests {
    @Test func referenceCasesEncodeAndDecode() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let cases = try TokenizerFixtures.cases("cases.json")
        #expect(cases.count == 20)
        for c in cases {
            #expect(tokenizer.encode(c.text) == c.ids, "encode \(c.text.debugDescription)")
            #expect(Array(tokenizer.decode(c.ids).utf8) == Array(c.text.utf8), "decode \(c.text.debugDescription)")
        }
    }

    /// Several hundred random and adversarial strings (see scripts/make_tokenizer_cases.py).
    @Test func adversarialCasesMatchTiktoken() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let cases = try TokenizerFixtures.cases("parity.json")
        #expect(cases.count > 400)
        var failures = 0
        for c in cases {
            let ids = tokenizer.encode(c.text)
            if ids != c.ids {
                failures += 1
                if failures <= 10 {
                    Issue.record("encode \(c.text.debugDescription): got \(ids), expected \(c.ids); pieces \(GPT2PreTokenizer.pieces(of: c.text))")
                }
            }
            if let ordinary = c.ordinary_ids {
                #expect(tokenizer.encode(c.text, allowSpecialTokens: false) == ordinary, "ordinary \(c.text.debugDescription)")
            }
            #expect(Array(tokenizer.decode(c.ids).utf8) == Array(c.text.utf8), "decode \(c.text.debugDescription)")
        }
        #expect(failures == 0)
    }

    @Test func wellKnownIDs() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        #expect(tokenizer.vocabularySize == 50257)
        #expect(tokenizer.endOfTextID == 50256)
        #expect(tokenizer.encode("Hello, world!") == [15496, 11, 995, 0])
        #expect(tokenizer.tokenString(995) == "Ġworld")
        #expect(tokenizer.tokenString(50256) == "<|endoftext|>")
        #expect(tokenizer.tokenString(198) == "Ċ")
        #expect(tokenizer.tokenString(-1) == nil)
        #expect(tokenizer.tokenString(50257) == nil)
        #expect(tokenizer.tokenBytes(220) == [0x20])
    }

    @Test func specialTokensCanBePlainText() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let text = "end<|endoftext|>start"
        let special = tokenizer.encode(text)
        let plain = tokenizer.encode(text, allowSpecialTokens: false)
        #expect(special.contains(50256))
        #expect(!plain.contains(50256))
        #expect(tokenizer.encode("<|endoftext|>") == [50256])
        #expect(tokenizer.encode("<|endoftext|>", allowSpecialTokens: false) == [27, 91, 437, 1659, 5239, 91, 29])
        #expect(tokenizer.decode(special) == text)
        #expect(tokenizer.decode(plain) == text)
        // Unfinished special tokens are plain text either way.
        #expect(tokenizer.encode("<|endoftext|") == tokenizer.encode("<|endoftext|", allowSpecialTokens: false))
    }

    @Test func decodeNeverCrashes() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        // Unknown ids are skipped.
        #expect(tokenizer.decode([-1, 15496, 50257, Int.max, Int.min, 0]) == "Hello!")
        // Byte tokens that do not form UTF-8 give replacement characters.
        let e4 = tokenizer.tables.byteTokens[0xE4], b8 = tokenizer.tables.byteTokens[0xB8]
        let ad = tokenizer.tables.byteTokens[0xAD], ff = tokenizer.tables.byteTokens[0xFF]
        #expect(tokenizer.decode([Int(e4), Int(b8), Int(ad)]) == "中")
        #expect(tokenizer.decode([Int(e4), Int(b8)]) == "\u{FFFD}")
        #expect(tokenizer.decode([Int(ff), 64]) == "\u{FFFD}a")
        #expect(tokenizer.decode([Int(ad), Int(e4), Int(b8), 64]) == "\u{FFFD}\u{FFFD}a")
        // Random id sequences: any ids at all.
        var rng = TestRandom(seed: 7)
        for _ in 0..<200 {
            let ids = (0..<Int.random(in: 0...30, using: &rng)).map { _ in Int.random(in: -5...50300, using: &rng) }
            let text = tokenizer.decode(ids)
            #expect(text.utf8.count >= 0)
        }
    }

    @Test func tokenizerIsSharedSafelyAcrossTasks() async throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let cases = try TokenizerFixtures.cases("parity.json").filter { $0.text.utf8.count > 20 }
        // Long enough texts that each call builds its own piece cache.
        let texts = (0..<16).map { k in
            String(repeating: cases.enumerated().filter { $0.offset % 16 == k }.map(\.element.text).joined(separator: "\n") + "\n", count: 3)
        }
        #expect(texts.allSatisfy { $0.utf8.count >= GPT2Tokenizer.Tables.cacheThreshold })
        let expected = texts.map { tokenizer.encode($0) }
        let results = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (i, text) in texts.enumerated() {
                group.addTask { (i, tokenizer.encode(text)) }
            }
            var results = [[Int]](repeating: [], count: texts.count)
            for await (i, ids) in group { results[i] = ids }
            return results
        }
        #expect(results == expected)
        for (text, ids) in zip(texts, results) {
            #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8))
        }
    }

    /// The piece cache only applies to long texts; a long text must give the ids of its parts.
    @Test func cachedAndUncachedEncodingAgree() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        // Texts that start and end with non-whitespace, so that a "\n" between them is a piece of its own.
        let lines = try TokenizerFixtures.cases("cases.json").map(\.text).filter {
            guard let first = $0.unicodeScalars.first, let last = $0.unicodeScalars.last else { return false }
            return !first.properties.isWhitespace && !last.properties.isWhitespace && !$0.contains("<|")
        }
        let all = Array(repeating: lines, count: 12).flatMap { $0 }
        let long = all.joined(separator: "\n")
        #expect(long.utf8.count > 2 * GPT2Tokenizer.Tables.cacheThreshold)
        var expected: [Int] = []
        for (i, line) in all.enumerated() {
            if i > 0 { expected.append(198) }
            expected += tokenizer.encode(line)
        }
        #expect(tokenizer.encode(long) == expected)
    }
}
