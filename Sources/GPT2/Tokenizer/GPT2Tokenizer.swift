import Foundation

/// GPT-2's byte-level BPE tokenizer, token for token identical to the reference (OpenAI's
/// `encoder.py`, `tiktoken`'s "gpt2", Hugging Face's `GPT2TokenizerFast`).
///
/// ```swift
/// let tokenizer = try GPT2Tokenizer(directory: URL(fileURLWithPath: "Models/sales-demo"))
/// tokenizer.encode("Hello, world!")             // [15496, 11, 995, 0]
/// tokenizer.decode([15496, 11, 995, 0])         // "Hello, world!"
/// tokenizer.encode("<|endoftext|>")             // [50256]
/// tokenizer.encode("<|endoftext|>", allowSpecialTokens: false)  // [27, 91, 437, 1659, 5239, 91, 29]
/// ```
///
/// Encoding splits the text at special tokens (when allowed), splits each part into pieces with
/// GPT-2's pattern (`GPT2PreTokenizer`), and merges the bytes of each piece by rank (`BPEMerger`).
/// The value is immutable and cheap to copy; share it freely across tasks. Each `encode` call
/// keeps its own cache of merged pieces, so calls never contend for a lock.
public struct GPT2Tokenizer: Sendable {
    let tables: Tables

    /// Loads `tokenizer.json` if the directory has one, else `vocab.json` + `merges.txt`.
    public init(directory: URL) throws {
        let fm = FileManager.default
        let json = directory.appendingPathComponent("tokenizer.json")
        let vocab = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        if fm.fileExists(atPath: json.path) {
            try self.init(tokenizerJSONURL: json)
        } else if fm.fileExists(atPath: vocab.path) || fm.fileExists(atPath: merges.path) {
            try self.init(vocabURL: vocab, mergesURL: merges)
        } else {
            var isDirectory: ObjCBool = false
            let exists = fm.fileExists(atPath: directory.path, isDirectory: &isDirectory)
            throw TokenizerError(.fileNotFound, file: directory.path,
                                 exists && isDirectory.boolValue
                                    ? "no tokenizer files: expected tokenizer.json, or vocab.json and merges.txt"
                                    : "directory not found")
        }
    }

    /// Loads GPT-2's original pair of files.
    public init(vocabURL: URL, mergesURL: URL) throws {
        var definition = GPT2TokenizerDefinition(vocabularyFile: vocabURL.path, mergesFile: mergesURL.path,
                                                  vocabularyName: "vocab.json")
        definition.vocabulary = try TokenizerFileReader.readVocabJSON(vocabURL)
        definition.merges = try TokenizerFileReader.readMergesTXT(mergesURL)
        tables = try Tables(definition)
    }

    /// Loads a Hugging Face `tokenizer.json` (BPE model, ByteLevel pre-tokenizer).
    public init(tokenizerJSONURL: URL) throws {
        tables = try Tables(TokenizerFileReader.readTokenizerJSON(tokenizerJSONURL))
    }

    /// Number of token ids: every id in `0..<vocabularySize` decodes to some bytes.
    public var vocabularySize: Int { tables.tokenOffsets.count - 1 }

    /// The id of `<|endoftext|>` (50256 for GPT-2).
    public var endOfTextID: Int { tables.endOfTextID }

    /// The ids of `text`.
    ///
    /// - Parameter allowSpecialTokens: when true (the default), special tokens written in the
    ///   text, such as `<|endoftext|>`, become their ids; when false they are encoded as plain
    ///   text, like `tiktoken`'s `encode_ordinary`.
    public func encode(_ text: String, allowSpecialTokens: Bool = true) -> [Int] {
        var text = text
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable {
            tables.encode(utf8: $0, allowSpecialTokens: allowSpecialTokens)
        } ?? []
    }

    /// The text of `ids`. Byte sequences that are not valid UTF-8 (possible with arbitrary ids)
    /// become U+FFFD replacement characters; ids outside `0..<vocabularySize` are skipped.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { tables.appendBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes of one token; empty for an id outside `0..<vocabularySize`.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        tables.appendBytes(of: id, to: &bytes)
        return bytes
    }

    /// The token as the vocabulary spells it (GPT-2's byte alphabet: `"Ġthe"` for `" the"`),
    /// or the literal text of a special token; nil for an id outside `0..<vocabularySize`.
    public func tokenString(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        let bytes = tokenBytes(id)
        if tables.literalIDs.contains(id) { return String(decoding: bytes, as: UTF8.self) }
        return GPT2ByteEncoder.spell(bytes)
    }
}

// MARK: - Tables

extension GPT2Tokenizer {
    /// Everything the tokenizer knows, checked and laid out for the encoder. Immutable.
    final class Tables: Sendable {
        struct SpecialToken: Sendable {
            var bytes: [UInt8]
            var id: Int32
        }

        /// Bytes of token `id` are `tokenBytes[tokenOffsets[id]..<tokenOffsets[id + 1]]`.
        let tokenBytes: [UInt8]
        let tokenOffsets: [Int]
        /// Token id of each single byte.
        let byteTokens: [Int32]
        let merges: BPEMergeTable
        /// Tokens matched literally in the text when special tokens are allowed, longest first.
        let specialTokens: [SpecialToken]
        /// `specialFirstByte[b]`: some special token starts with byte b.
        let specialFirstByte: [Bool]
        let endOfTextID: Int
        /// Ids whose bytes are literal text rather than a byte-alphabet spelling.
        let literalIDs: Set<Int>

        static let endOfText = Array("<|endoftext|>".utf8)

        init(_ d: GPT2TokenizerDefinition) throws(TokenizerError) {
            let vocabFile = d.vocabularyFile
            let n = d.vocabulary.count
            guard n > 0 else { throw TokenizerError(.invalidVocabulary, file: vocabFile, "the vocabulary is empty") }

            // Ids must be exactly 0..<n, each spelling once.
            var lineOfID = [Int](repeating: 0, count: n)
            var spellingOfID = [[UInt8]](repeating: [], count: n)
            var idOfSpelling: [[UInt8]: Int32] = [:]
            idOfSpelling.reserveCapacity(n)
            for token in d.vocabulary {
                let q = TokenizerFileReader.quote(token.spelling)
                guard token.id >= 0 else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(q) has a negative id \(token.id)")
                }
                guard token.id < n else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(q) has id \(token.id), out of range: \(d.vocabularyName) has \(n) tokens, so ids must be 0...\(n - 1)")
                }
                if lineOfID[token.id] != 0 {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "id \(token.id) is given to both \(TokenizerFileReader.quote(spellingOfID[token.id])) (line \(lineOfID[token.id])) and \(q)")
                }
                if let other = idOfSpelling.updateValue(Int32(token.id), forKey: token.spelling) {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(q) appears twice (first at line \(lineOfID[Int(other)]))")
                }
                lineOfID[token.id] = token.line
                spellingOfID[token.id] = token.spelling
            }

            // Raw bytes of every token.
            var size = n
            for added in d.addedTokens where added.id >= n { size = max(size, added.id + 1) }
            guard size <= 1 << 24 else {
                let bad = d.addedTokens.first { $0.id >= 1 << 24 }!
                throw TokenizerError(.invalidVocabulary, file: vocabFile, line: bad.line,
                                     "added token id \(bad.id) is too large")
            }
            var bytesOfID = [[UInt8]?](repeating: nil, count: size)
            var literal = Set<Int>()
            for id in 0..<n {
                if let bytes = GPT2ByteEncoder.decode(utf8: spellingOfID[id]) {
                    bytesOfID[id] = bytes
                } else {
                    // Not in the byte alphabet: a literal token such as an added "<pad>" in the vocabulary.
                    bytesOfID[id] = spellingOfID[id]
                    literal.insert(id)
                }
            }

            // Added tokens: either the vocabulary's own token (same text) or a new id.
            var specials: [SpecialToken] = []
            for added in d.addedTokens {
                let q = TokenizerFileReader.quote(added.content)
                guard added.id >= 0 else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                         "added token \(q) has a negative id \(added.id)")
                }
                if added.id < n {
                    let spelling = spellingOfID[added.id]
                    guard spelling == added.content || bytesOfID[added.id]! == added.content else {
                        throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                             "added token \(q) has id \(added.id), which \(d.vocabularyName) gives to \(TokenizerFileReader.quote(spelling))")
                    }
                } else if let existing = bytesOfID[added.id] {
                    guard existing == added.content else {
                        throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                             "id \(added.id) is given to two added tokens, \(TokenizerFileReader.quote(existing)) and \(q)")
                    }
                } else {
                    bytesOfID[added.id] = added.content
                }
                bytesOfID[added.id] = added.content
                literal.insert(added.id)
                if !specials.contains(where: { $0.bytes == added.content }) {
                    specials.append(SpecialToken(bytes: added.content, id: Int32(added.id)))
                }
            }
            // With GPT-2's own two files, <|endoftext|> is the one special token.
            if d.addedTokens.isEmpty, let id = idOfSpelling[Tables.endOfText] {
                specials.append(SpecialToken(bytes: Tables.endOfText, id: id))
                literal.insert(Int(id))
            }
            specials.sort { $0.bytes.count > $1.bytes.count }
            guard let eot = specials.first(where: { $0.bytes == Tables.endOfText })?.id
                    ?? idOfSpelling[Tables.endOfText] else {
                throw TokenizerError(.invalidVocabulary, file: vocabFile, "no <|endoftext|> token in \(d.vocabularyName)")
            }

            var flat: [UInt8] = []
            var offsets: [Int] = [0]
            flat.reserveCapacity(n * 8)
            offsets.reserveCapacity(size + 1)
            for bytes in bytesOfID {
                flat.append(contentsOf: bytes ?? [])
                offsets.append(flat.count)
            }

            // One token per byte value.
            var byteTokens = [Int32](repeating: 0, count: 256)
            for b in 0..<256 {
                let spelling = Array(String(GPT2ByteEncoder.scalars[b]).utf8)
                guard let id = idOfSpelling[spelling] else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile,
                                         "no token for byte 0x\(String(b, radix: 16, uppercase: true)) (spelled \"\(GPT2ByteEncoder.scalars[b])\") in \(d.vocabularyName); a byte-level BPE vocabulary needs all 256")
                }
                byteTokens[b] = id
            }

            // Merge rules, in rank order.
            var rules: [(left: Int32, right: Int32, merged: Int32)] = []
            rules.reserveCapacity(d.merges.count)
            let mergesFile = d.mergesFile
            for merge in d.merges {
                guard let left = idOfSpelling[merge.left] else {
                    throw TokenizerError(.invalidMerges, file: mergesFile, line: merge.line,
                                         "unknown token \(TokenizerFileReader.quote(merge.left)): not in \(d.vocabularyName)")
                }
                guard let right = idOfSpelling[merge.right] else {
                    throw TokenizerError(.invalidMerges, file: mergesFile, line: merge.line,
                                         "unknown token \(TokenizerFileReader.quote(merge.right)): not in \(d.vocabularyName)")
                }
                guard let merged = idOfSpelling[merge.left + merge.right] else {
                    throw TokenizerError(.invalidMerges, file: mergesFile, line: merge.line,
                                         "the merged token \(TokenizerFileReader.quote(merge.left + merge.right)) is not in \(d.vocabularyName)")
                }
                rules.append((left, right, merged))
            }

            tokenBytes = flat
            tokenOffsets = offsets
            self.byteTokens = byteTokens
            merges = BPEMergeTable(rules: rules)
            specialTokens = specials
            var first = [Bool](repeating: false, count: 256)
            for s in specials { first[Int(s.bytes[0])] = true }
            specialFirstByte = first
            endOfTextID = Int(eot)
            literalIDs = literal
        }

        @inline(__always)
        func appendBytes(of id: Int, to bytes: inout [UInt8]) {
            guard id >= 0, id < tokenOffsets.count - 1 else { return }
            bytes.append(contentsOf: tokenBytes[tokenOffsets[id]..<tokenOffsets[id + 1]])
        }
    }
}

// MARK: - Encoding

extension GPT2Tokenizer.Tables {
    /// Texts shorter than this are encoded without a piece cache (it would cost more than it saves).
    static let cacheThreshold = 256

    func encode(utf8 text: UnsafeBufferPointer<UInt8>, allowSpecialTokens: Bool) -> [Int] {
        guard let base = text.baseAddress, text.count > 0 else { return [] }
        let n = text.count
        var out: [Int] = []
        out.reserveCapacity(n / 2 + 16)
        GPT2PreTokenizer.bmpClassTable.withUnsafeBufferPointer { classes in
            byteTokens.withUnsafeBufferPointer { byteTokens in
                merges.withView { merges in
                    var encoder = PieceEncoder(
                        text: base, classes: classes.baseAddress!,
                        merger: BPEMerger(merges: merges, byteTokens: byteTokens.baseAddress!),
                        useCache: n >= GPT2Tokenizer.Tables.cacheThreshold, textLength: n)
                    defer { encoder.deallocate() }
                    if allowSpecialTokens && !specialTokens.isEmpty {
                        var segmentStart = 0
                        var i = 0
                        while i < n {
                            if specialFirstByte[Int(base[i])], let special = matchSpecial(base, n, at: i) {
                                encoder.encode(from: segmentStart, to: i, into: &out)
                                out.append(Int(special.id))
                                i += special.bytes.count
                                segmentStart = i
                            } else {
                                i += 1
                            }
                        }
                        encoder.encode(from: segmentStart, to: n, into: &out)
                    } else {
                        encoder.encode(from: 0, to: n, into: &out)
                    }
                }
            }
        }
        return out
    }

    private func matchSpecial(_ text: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> SpecialToken? {
        for special in specialTokens where special.bytes.count <= n - i {
            var k = 0
            while k < special.bytes.count, text[i + k] == special.bytes[k] { k += 1 }
            if k == special.bytes.count { return special }
        }
        return nil
    }
}

/// The inner loop of encoding: pre-tokenize a stretch of text and append each piece's ids.
struct PieceEncoder {
    let text: UnsafePointer<UInt8>
    let classes: UnsafePointer<UInt8>
    let merger: BPEMerger
    var cache: BPEWordCache?
    var ids: UnsafeMutablePointer<Int32>
    var pairs: UnsafeMutablePointer<UInt64>
    var scratchCapacity: Int

    init(text: UnsafePointer<UInt8>, classes: UnsafePointer<UInt8>, merger: BPEMerger, useCache: Bool, textLength: Int) {
        self.text = text
        self.classes = classes
        self.merger = merger
        cache = useCache ? BPEWordCache(text: text, expectedPieces: min(textLength / 16, 1 << 16)) : nil
        scratchCapacity = 256
        ids = .allocate(capacity: scratchCapacity)
        pairs = .allocate(capacity: scratchCapacity)
    }

    func deallocate() {
        cache?.deallocate()
        ids.deallocate()
        pairs.deallocate()
    }

    /// Encodes `text[start..<end]`, which the pattern sees as a whole text.
    mutating func encode(from start: Int, to end: Int, into out: inout [Int]) {
        guard start < end else { return }
        let scanner = GPT2PreTokenizer(text: text + start, count: end - start, bmpClasses: classes)
        var i = 0
        while i < scanner.count {
            let pieceEnd = scanner.pieceEnd(from: i)
            let length = pieceEnd - i
            let pieceStart = start + i
            i = pieceEnd
            if length == 1 {
                out.append(Int(merger.byteTokens[Int(text[pieceStart])]))
                continue
            }
            if cache != nil {
                let h = BPEWordCache.hash(text + pieceStart, length)
                if let cached = cache!.lookup(start: pieceStart, length: length, hash: h) {
                    for id in cached { out.append(Int(id)) }
                    continue
                }
                let count = mergePiece(at: pieceStart, length: length)
                cache!.insert(start: pieceStart, length: length, hash: h, ids: ids, count: count)
                for k in 0..<count { out.append(Int(ids[k])) }
            } else {
                let count = mergePiece(at: pieceStart, length: length)
                for k in 0..<count { out.append(Int(ids[k])) }
            }
        }
    }

    @inline(__always)
    private mutating func mergePiece(at start: Int, length: Int) -> Int {
        if length > scratchCapacity {
            ids.deallocate()
            pairs.deallocate()
            while scratchCapacity < length { scratchCapacity *= 2 }
            ids = .allocate(capacity: scratchCapacity)
            pairs = .allocate(capacity: scratchCapacity)
        }
        return merger.merge(text + start, length, ids: ids, pairs: pairs)
    }
}
