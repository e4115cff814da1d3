/// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes one by one.
///
/// It is a hand-written scanner over the UTF-8 bytes of the text (Unicode scalars, not
/// `Character`s) that finds exactly the matches of GPT-2's pattern
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// where `\p{L}` is general category L*, `\p{N}` is N* and `\s` is the White_Space property.
/// The alternatives are tried in order at each position, as a backtracking regex engine does:
/// - `'` followed by `s t m d` or `re ve ll` (lowercase only) is a contraction piece;
/// - an optional single U+0020 space followed by a run of letters, of numbers, or of "other"
///   scalars (neither whitespace, letter nor number) is one piece;
/// - otherwise a run of whitespace is one piece, except that when the run has two or more
///   scalars and non-whitespace follows, its last scalar is left for the next piece
///   (`\s+(?!\S)` backtracks by one), so that " word" keeps its leading space.
struct GPT2PreTokenizer {
    /// Scalar classes of the pattern.
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 3

    let text: UnsafePointer<UInt8>
    let count: Int
    /// Class of every Basic Multilingual Plane scalar (65,536 entries).
    let bmpClasses: UnsafePointer<UInt8>

    /// The class of a scalar from its Unicode properties.
    static func classify(_ scalar: Unicode.Scalar) -> UInt8 {
        let properties = scalar.properties
        if properties.isWhitespace { return whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// Classes of U+0000…U+FFFF, computed once per process (surrogates are "other"; they never
    /// occur in a Swift string).
    static let bmpClassTable: [UInt8] = (0..<0x10000).map { (value: Int) -> UInt8 in
        guard let scalar = Unicode.Scalar(UInt32(value)) else { return other }
        return classify(scalar)
    }

    /// Class and UTF-8 length of the scalar starting at byte `i` (the text is valid UTF-8).
    @inline(__always)
    func scalarClass(at i: Int) -> (UInt8, Int) {
        let b0 = text[i]
        if b0 < 0x80 { return (bmpClasses[Int(b0)], 1) }
        if b0 < 0xE0 {
            let v = Int(b0 & 0x1F) << 6 | Int(text[i + 1] & 0x3F)
            return (bmpClasses[v], 2)
        }
        if b0 < 0xF0 {
            let v = Int(b0 & 0x0F) << 12 | Int(text[i + 1] & 0x3F) << 6 | Int(text[i + 2] & 0x3F)
            return (bmpClasses[v], 3)
        }
        let v = UInt32(b0 & 0x07) << 18 | UInt32(text[i + 1] & 0x3F) << 12
            | UInt32(text[i + 2] & 0x3F) << 6 | UInt32(text[i + 3] & 0x3F)
        return (GPT2PreTokenizer.classify(Unicode.Scalar(v) ?? "\u{FFFD}"), 4)
    }

    /// The end (exclusive byte offset) of the piece that starts at byte `i` (`i < count`).
    @inline(__always)
    func pieceEnd(from i: Int) -> Int {
        let n = count
        let c0 = text[i]

        // 's 't 're 've 'm 'll 'd
        if c0 == UInt8(ascii: "'"), i + 1 < n {
            switch text[i + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < n, text[i + 2] == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < n, text[i + 2] == UInt8(ascii: "l") { return i + 3 }
            default:
                break
            }
        }

        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
        let j = c0 == 0x20 ? i + 1 : i
        if j < n {
            let (cls, len) = scalarClass(at: j)
            if cls != GPT2PreTokenizer.whitespace {
                var k = j + len
                while k < n {
                    let (c, l) = scalarClass(at: k)
                    if c != cls { break }
                    k += l
                }
                return k
            }
        }

        // \s+(?!\S) | \s+ — c0 is whitespace here.
        var k = i
        var lastStart = i
        while k < n {
            let (c, l) = scalarClass(at: k)
            if c != GPT2PreTokenizer.whitespace { break }
            lastStart = k
            k += l
        }
        if k == n || lastStart == i { return k }
        return lastStart
    }
}

extension GPT2PreTokenizer {
    /// The pieces of `text` as strings; for tests and debugging (the encoder scans in place).
    static func pieces(of text: String) -> [String] {
        var text = text
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable { buffer -> [String] in
            bmpClassTable.withUnsafeBufferPointer { classes in
                guard let base = buffer.baseAddress else { return [] }
                let scanner = GPT2PreTokenizer(text: base, count: buffer.count, bmpClasses: classes.baseAddress!)
                var result: [String] = []
                var i = 0
                while i < buffer.count {
                    let end = scanner.pieceEnd(from: i)
                    result.append(String(decoding: UnsafeBufferPointer(rebasing: buffer[i..<end]), as: UTF8.self))
                    i = end
                }
                return result
            }
        } ?? []
    }
}
