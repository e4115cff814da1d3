/// Keeps strings out of the generated text: "never name a competitor".
///
/// At every step it forbids (sets to `-infinity`) each token that would complete one of the
/// strings: a token whose text contains it, such as `" Acme"` or `"Acme's"` for `"Acme"`, and a
/// token that finishes it after the end of the text so far, such as `"me"` after `" Ac"`.
///
/// What it guarantees: the generated text (the tokens' bytes, as ``GenerationResult/text`` and the
/// streamed tokens show them) never contains any of the strings, not even across token
/// boundaries or across the end of the prompt. The only exception: if every token is forbidden at
/// some step (by this and the other processors together), the sampler falls back to token 0.
///
/// What it does not do:
/// - Matching is exact and case-sensitive, on the UTF-8 bytes: banning `"Acme"` does not ban
///   `"ACME"` or `"acme"` (ban each spelling you want kept out), nor a differently normalised
///   Unicode spelling. It does ban every word containing the string (`"Acmeville"`).
/// - The model may still write the start of a string (`" Ac"`) and then has to continue some
///   other way, or paraphrase ("that other company"); it does not plan around the ban.
/// - `<|endoftext|>` is never forbidden, and its text does not count: it ends the generation.
///
/// Forbidding a token costs nothing at generation time beyond a few look-ups; building the
/// processor reads the whole vocabulary once per string (a few milliseconds).
public struct BannedStringsProcessor: LogitProcessor {
    /// A banned string, with the tokens that can complete it.
    struct Banned: Sendable {
        /// The string's UTF-8 bytes.
        var bytes: [UInt8]
        /// The tokens whose bytes contain the whole string.
        var containing: [Int]
        /// `finishing[j]`, for `j` in `1..<bytes.count`: the tokens whose bytes start with
        /// `bytes[j...]`, which complete the string when the text so far ends with `bytes[..<j]`.
        var finishing: [[Int]]
    }

    /// The strings kept out of the text.
    public let strings: [String]
    let banned: [Banned]
    let tokenizer: GPT2Tokenizer

    /// Creates a processor banning `strings` for the vocabulary of `tokenizer`. Empty strings are
    /// ignored (``GenerationParameters/validate()`` rejects them).
    public init(_ strings: [String], tokenizer: GPT2Tokenizer) {
        self.strings = strings
        self.tokenizer = tokenizer
        let vocabulary = (0..<tokenizer.vocabularySize).map { id in
            id == tokenizer.endOfTextID ? [] : tokenizer.tokenBytes(id)
        }
        banned = strings.map { Array($0.utf8) }.filter { !$0.isEmpty }.map { bytes in
            var banned = Banned(bytes: bytes, containing: [], finishing: Array(repeating: [], count: bytes.count))
            for (id, token) in vocabulary.enumerated() {
                if token.count >= bytes.count
                    && (0...(token.count - bytes.count)).contains(where: { token[$0..<($0 + bytes.count)] == bytes[...] }) {
                    banned.containing.append(id)
                }
                for j in 1..<bytes.count where token.first == bytes[j] && token.starts(with: bytes[j...]) {
                    banned.finishing[j].append(id)
                }
            }
            return banned
        }
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        guard let longest = banned.map(\.bytes.count).max() else { return }
        let tail = textTail(history, length: longest - 1)
        for string in banned {
            var forbidden = string.containing
            for j in 1..<string.bytes.count where tail.suffix(j).elementsEqual(string.bytes[..<j]) {
                forbidden += string.finishing[j]
            }
            for id in forbidden where logits.indices.contains(id) {
                logits[id] = -.infinity
            }
        }
    }

    /// The last `length` bytes (or fewer) of the text of `history`, `<|endoftext|>` counting as none.
    func textTail(_ history: [Int], length: Int) -> [UInt8] {
        var tail: [UInt8] = []
        var i = history.endIndex
        while tail.count < length && i > history.startIndex {
            i -= 1
            if history[i] != tokenizer.endOfTextID { tail.insert(contentsOf: tokenizer.tokenBytes(history[i]), at: 0) }
        }
        return Array(tail.suffix(length))
    }
}
