import Testing
@testable import GPT2Tokenizer
import TestSupport

@Suite struct TokenizerStreamingTests {
    /// Chinese characters split across byte-level tokens: nothing broken is ever shown, nothing lost.
    @Test func chineseIsNeverShownBroken() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let text = "您好，张三先生，我了解您是一位程序员，对编程和游戏很感兴趣。龍🚀"
        let ids = tokenizer.encode(text)
        var stream = StreamingDecoder(tokenizer: tokenizer)
        var chunks: [String] = []
        var emptyReturns = 0
        for id in ids {
            let chunk = stream.append(id)
            if chunk.isEmpty { emptyReturns += 1 }
            #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "broken character after id \(id)")
            chunks.append(chunk)
        }
        chunks.append(stream.finish())
        #expect(emptyReturns > 0, "expected some characters to span several tokens")
        #expect(chunks.joined() == text)
        #expect(!stream.hasPendingBytes)
    }

    /// For random ids (often partial UTF-8) cut into random groups, the stream equals decode.
    @Test func streamEqualsOneShotDecodeForRandomSplits() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let byteTokens = tokenizer.tables.byteTokens.map(Int.init)
        var rng = TestRandom(seed: 42)
        for trial in 0..<500 {
            var ids: [Int] = []
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: ids.append(byteTokens[Int.random(in: 0x80...0xFF, using: &rng)])  // lone high bytes
                case 1: ids.append(Int.random(in: 0..<tokenizer.vocabularySize, using: &rng))
                case 2: ids.append(contentsOf: tokenizer.encode(TokenizerRoundTripTests.randomText(&rng, maxScalars: 4)))
                default: ids.append(Int.random(in: -3...50_300, using: &rng))  // some unknown ids
                }
            }
            var stream = StreamingDecoder(tokenizer: tokenizer)
            var out = ""
            var i = 0
            while i < ids.count {
                let n = min(ids.count - i, Int.random(in: 1...4, using: &rng))
                if n == 1 || trial % 2 == 0 {
                    for id in ids[i..<(i + n)] { out += stream.append(id) }
                } else {
                    out += stream.append(contentsOf: ids[i..<(i + n)])
                }
                i += n
            }
            out += stream.finish()
            #expect(Array(out.utf8) == Array(tokenizer.decode(ids).utf8), "ids \(ids)")
        }
    }

    @Test func finishFlushesAnUnfinishedTail() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let b = tokenizer.tables.byteTokens.map(Int.init)
        var stream = StreamingDecoder(tokenizer: tokenizer)
        #expect(stream.append(b[0x41]) == "A")
        #expect(stream.append(b[0xE4]) == "")
        #expect(stream.append(b[0xB8]) == "")
        #expect(stream.hasPendingBytes)
        #expect(stream.finish() == "\u{FFFD}")
        // The decoder starts afresh after finish.
        #expect(stream.append(b[0xE4]) == "")
        #expect(stream.append(b[0xB8]) == "")
        #expect(stream.append(b[0xAD]) == "中")
        #expect(stream.finish() == "")
        // Bytes that can never be valid come out at once.
        #expect(stream.append(b[0xFF]) == "\u{FFFD}")
        #expect(stream.append(b[0xE4]) == "")
        #expect(stream.append(b[0x41]) == "\u{FFFD}A")
        #expect(stream.append(50256) == "<|endoftext|>")
        #expect(stream.append(-1) == "")
    }

    @Test func completePrefixLength() {
        let f = StreamingDecoder.completePrefixLength
        #expect(f([]) == 0)
        #expect(f([0x41]) == 1)
        #expect(f([0xE4, 0xB8]) == 0)
        #expect(f([0xE4, 0xB8, 0xAD]) == 3)
        #expect(f([0x41, 0xF0, 0x9F, 0x9A]) == 1)
        #expect(f([0xF0, 0x9F, 0x9A, 0x80]) == 4)
        #expect(f([0xC0]) == 1)            // never valid
        #expect(f([0xED, 0xA0]) == 2)      // would be a surrogate: decided at once
        #expect(f([0xE0, 0x80]) == 2)      // overlong
        #expect(f([0xF4, 0x90]) == 2)      // above U+10FFFF
        #expect(f([0xF4, 0x8F]) == 0)      // still possible
        #expect(f([0x80, 0xE4]) == 1)
    }

    /// Every byte string, cut anywhere: decoding the complete prefix, then the rest, equals decoding all.
    @Test func splittingBytesNeverChangesTheText() {
        var rng = TestRandom(seed: 3)
        let interesting: [UInt8] = [0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE4, 0xED, 0xEF,
                                    0xF0, 0xF4, 0xF5, 0xFF, 0xB8, 0xAD]
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...8, using: &rng)).map { _ in interesting.randomElement(using: &rng)! }
            let whole = String(decoding: bytes, as: UTF8.self)
            for cut in 0...bytes.count {
                let head = Array(bytes[..<cut])
                let k = StreamingDecoder.completePrefixLength(head)
                let streamed = String(decoding: head[..<k], as: UTF8.self)
                    + String(decoding: Array(head[k...]) + bytes[cut...], as: UTF8.self)
                #expect(Array(streamed.utf8) == Array(whole.utf8), "bytes \(bytes) cut \(cut)")
                #expect(head.count - k <= 3)
            }
        }
    }
}
