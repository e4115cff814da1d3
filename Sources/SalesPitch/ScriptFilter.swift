import GPT2

/// Keeps CJK text out of an English pitch by forbidding, at every step, the tokens that can only
/// be part of CJK text: those with a UTF-8 lead byte of U+3000–U+DFFF (CJK punctuation, kana,
/// ideographs, Hangul) or of U+F000–U+FFFF (compatibility ideographs, full-width forms). Curly
/// quotes, dashes and other punctuation (lead byte 0xE2) and emoji stay allowed.
///
/// Cheaper and surer than redrawing: the small demo model drifts into Chinese now and then, and
/// a pitch that did is otherwise lost (see `Benchmarks/README.md` for the measured difference).
public struct ScriptFilter: LogitProcessor {
    /// The forbidden token ids.
    public let forbidden: [Int]

    /// The filter for the vocabulary of `tokenizer`.
    public init(tokenizer: GPT2Tokenizer) {
        forbidden = (0..<tokenizer.vocabularySize).filter { id in
            tokenizer.tokenBytes(id).contains { (0xE3...0xED).contains($0) || $0 == 0xEF }
        }
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        for id in forbidden where id < logits.count { logits[id] = -.infinity }
    }
}
