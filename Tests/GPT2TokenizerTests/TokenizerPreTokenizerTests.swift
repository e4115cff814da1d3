import Testing
@testable import GPT2Tokenizer
import TestSupport

/// The hand-written scanner against the matches of GPT-2's pattern (expected pieces computed
/// with Python's `regex` module on the same pattern).
@Suite struct TokenizerPreTokenizerTests {
    @Test(arguments: [
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("I'm sure they'll say it's", ["I", "'m", " sure", " they", "'ll", " say", " it", "'s"]),
        ("  leading spaces and trailing   ", [" ", " leading", " spaces", " and", " trailing", "   "]),
        ("a \u{3000}b", ["a", " ", "\u{3000}", "b"]),
        ("Line one\nLine two\n\n\tTabbed\r\nWin",
         ["Line", " one", "\n", "Line", " two", "\n\n", "\t", "Tabbed", "\r", "\n", "Win"]),
        ("'S 'sx ''s", ["'", "S", " '", "sx", " ''", "s"]),
        ("'re've'll'd'm't 'RE", ["'re", "'ve", "'ll", "'d", "'m", "'t", " '", "RE"]),
        ("1234 abc123 \u{663}\u{664} ½", ["1234", " abc", "123", " \u{663}\u{664}", " ½"]),
        ("e\u{301} 🚀🔥 x", ["e", "\u{301}", " 🚀🔥", " x"]),
        ("你好，世界！ 再见", ["你好", "，", "世界", "！", " 再见"]),
        ("x  \n  y", ["x", "  \n ", " y"]),
        ("a\u{A0} b", ["a", "\u{A0}", " b"]),
        ("\r\n", ["\r\n"]),
        (" ", [" "]),
        ("", []),
        ("'", ["'"]),
        ("x'", ["x", "'"]),
        ("'l", ["'", "l"]),
    ] as [(String, [String])])
    func piecesMatchThePattern(text: String, expected: [String]) {
        let pieces = GPT2PreTokenizer.pieces(of: text)
        // Compare scalars, not Strings: String equality is canonical equivalence.
        #expect(pieces.map { Array($0.unicodeScalars) } == expected.map { Array($0.unicodeScalars) },
                "\(text.debugDescription) -> \(pieces)")
    }

    @Test func scalarClasses() {
        let c = GPT2PreTokenizer.classify
        let letter = GPT2PreTokenizer.letter, number = GPT2PreTokenizer.number
        let whitespace = GPT2PreTokenizer.whitespace, other = GPT2PreTokenizer.other
        for s in ["a", "Z", "é", "ß", "ǅ", "ʰ", "中", "あ", "한", "𝐀", "𠀀"] as [Unicode.Scalar] { #expect(c(s) == letter, "\(s)") }
        for s in ["0", "9", "²", "½", "Ⅻ", "〇", "\u{663}", "①", "𝟘"] as [Unicode.Scalar] { #expect(c(s) == number, "\(s)") }
        for s in [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}",
                  "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}"] as [Unicode.Scalar] {
            #expect(c(s) == whitespace, "U+\(String(s.value, radix: 16))")
        }
        for s in ["!", "'", "\u{301}", "🚀", "\u{1C}", "\u{1F}", "\u{200B}", "\u{FEFF}", "\u{180E}", "\u{0}",
                  "\u{E000}", "€", "，"] as [Unicode.Scalar] {
            #expect(c(s) == other, "U+\(String(s.value, radix: 16))")
        }
        // The BMP table agrees with the properties.
        for v in stride(from: 0, to: 0x10000, by: 7) {
            if let s = Unicode.Scalar(UInt32(v)) { #expect(GPT2PreTokenizer.bmpClassTable[v] == c(s)) }
        }
    }

    /// Pieces always tile the text exactly, whatever it is.
    @Test func piecesTileRandomText() {
        var rng = TestRandom(seed: 11)
        let alphabet: [Unicode.Scalar] = [" ", " ", "\n", "\r", "\t", "\u{3000}", "'", "s", "l", "a", "1", "!", "中", "🚀", "\u{301}", "\u{A0}"]
        for _ in 0..<300 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...40, using: &rng) { s.append(alphabet.randomElement(using: &rng)!) }
            let text = String(s)
            let pieces = GPT2PreTokenizer.pieces(of: text)
            #expect(pieces.flatMap { Array($0.utf8) } == Array(text.utf8))
            #expect(!pieces.contains(""))
        }
    }
}
