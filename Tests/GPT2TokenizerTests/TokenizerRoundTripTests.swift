import Testing
@testable import GPT2Tokenizer
import TestSupport

/// Property tests: decode(encode(text)) == text for random Unicode, and the long-piece merge
/// path equals the direct one.
@Suite struct TokenizerRoundTripTests {
    /// A random string mixing every plane with the troublesome scalars.
    static func randomText(_ rng: inout TestRandom, maxScalars: Int) -> String {
        let specials: [Unicode.Scalar] = [" ", " ", " ", "\n", "\r", "\t", "'", "s", "\u{A0}", "\u{3000}", "\u{301}",
                                          "\u{200D}", "\u{FE0F}", "\u{FEFF}", "\u{0}", "\u{85}", "中", "文", "🚀", "1"]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxScalars, using: &rng) {
            let scalar: Unicode.Scalar
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3: scalar = specials.randomElement(using: &rng)!
            case 3..<5: scalar = Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))
            case 5..<7: scalar = Unicode.Scalar(UInt32.random(in: 0x4E00...0x9FFF, using: &rng))!
            case 7: scalar = Unicode.Scalar(UInt32.random(in: 0x80...0xD7FF, using: &rng))!
            default:
                var v: UInt32
                repeat { v = UInt32.random(in: 0...0x10FFFF, using: &rng) } while (0xD800...0xDFFF).contains(v)
                scalar = Unicode.Scalar(v)!
            }
            s.append(scalar)
        }
        return String(s)
    }

    @Test func randomUnicodeRoundTrips() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        var rng = TestRandom(seed: 2026)
        for _ in 0..<400 {
            let text = Self.randomText(&rng, maxScalars: 60)
            let ids = tokenizer.encode(text, allowSpecialTokens: false)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.endOfTextID })
            #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8), "\(text.debugDescription)")
            // At most one token per byte, at least one per piece.
            #expect(ids.count <= text.utf8.count)
        }
    }

    @Test func longRandomTextRoundTripsWithTheCache() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        var rng = TestRandom(seed: 99)
        var text = ""
        for _ in 0..<60 { text += Self.randomText(&rng, maxScalars: 80) + " the 中文 the " }
        let ids = tokenizer.encode(text)
        #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8))
    }

    @Test func heapAndDirectMergeAgree() throws {
        let tokenizer = try TokenizerFixtures.gpt2()
        let tables = tokenizer.tables
        var rng = TestRandom(seed: 5)
        let words = ["the", " the", "中文", "人工智能", "🚀", "ing", "tion", "888", "  ", "ab", "é", "\u{301}", "'s"]
        tables.byteTokens.withUnsafeBufferPointer { byteTokens in
            tables.merges.withView { view in
                let merger = BPEMerger(merges: view, byteTokens: byteTokens.baseAddress!)
                for trial in 0..<150 {
                    var piece: [UInt8] = []
                    let target = trial < 100 ? Int.random(in: 2...64, using: &rng) : Int.random(in: 129...600, using: &rng)
                    while piece.count < target {
                        if Bool.random(using: &rng) {
                            piece += Array(words.randomElement(using: &rng)!.utf8)
                        } else {
                            piece.append(UInt8.random(in: 0...255, using: &rng))
                        }
                    }
                    let n = piece.count
                    var direct = [Int32](repeating: -1, count: n)
                    var pairs = [UInt64](repeating: 0, count: n)
                    var heap = [Int32](repeating: -1, count: n)
                    let (a, b) = piece.withUnsafeBufferPointer { p in
                        (direct.withUnsafeMutableBufferPointer { d in pairs.withUnsafeMutableBufferPointer { q in
                            merger.mergeQuadratic(p.baseAddress!, n, ids: d.baseAddress!, pairs: q.baseAddress!) } },
                         heap.withUnsafeMutableBufferPointer { h in merger.mergeWithHeap(p.baseAddress!, n, ids: h.baseAddress!) })
                    }
                    #expect(a == b)
                    #expect(Array(direct[0..<a]) == Array(heap[0..<b]), "piece \(piece)")
                }
            }
        }
    }
}
