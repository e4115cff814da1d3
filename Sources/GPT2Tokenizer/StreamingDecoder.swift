/// Turns generated ids into text as they arrive, never showing a broken character.
///
/// A byte-level token can end in the middle of a UTF-8 sequence (a Chinese character is often
/// split across two or three tokens). `append` returns only whole characters (Unicode scalars)
/// and keeps the unfinished bytes for the next call; `finish` flushes them, an unfinished tail
/// becoming U+FFFD. Bytes that can never become valid UTF-8 become U+FFFD as soon as that is
/// certain. The concatenation of everything returned equals `tokenizer.decode(allIDs)`.
///
/// ```swift
/// var stream = StreamingDecoder(tokenizer: tokenizer)
/// for id in generatedIDs { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
public struct StreamingDecoder: Sendable {
    private let tokenizer: GPT2Tokenizer
    /// Bytes received but not yet returned: at most one unfinished UTF-8 sequence (≤ 3 bytes)
    /// between calls.
    private var pending: [UInt8] = []

    public init(tokenizer: GPT2Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one token; returns the text completed by it ("" if none yet). Unknown ids are skipped.
    public mutating func append(_ id: Int) -> String {
        tokenizer.tables.appendBytes(of: id, to: &pending)
        let complete = StreamingDecoder.completePrefixLength(pending)
        if complete == 0 { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Adds several tokens; returns the text completed by them.
    public mutating func append(contentsOf ids: some Sequence<Int>) -> String {
        for id in ids { tokenizer.tables.appendBytes(of: id, to: &pending) }
        let complete = StreamingDecoder.completePrefixLength(pending)
        if complete == 0 { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns what remains (an unfinished sequence becomes U+FFFD) and starts afresh.
    public mutating func finish() -> String {
        defer { pending.removeAll(keepingCapacity: true) }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Whether bytes are held back waiting for the rest of a character.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// Length of the longest prefix of `bytes` whose decoding cannot change whatever follows:
    /// everything except a trailing sequence that is valid so far but unfinished. Decisions
    /// follow the UTF-8 well-formedness table (``utf8Sequence(startingWith:)``) and the "maximal subpart"
    /// rule that `String(decoding:as:)` uses for replacement characters.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            guard let (length, second) = utf8Sequence(startingWith: b0) else {
                i += 1  // never valid as a first byte: one U+FFFD, decided now
                continue
            }
            var k = 1
            while k < length {
                if i + k >= n { return i }  // valid so far, unfinished: wait for more bytes
                let b = bytes[i + k]
                let ok = k == 1 ? second.contains(b) : (b & 0xC0 == 0x80)
                if !ok { break }
                k += 1
            }
            i += k  // a whole sequence, or its maximal valid subpart (one U+FFFD)
        }
        return n
    }
}
