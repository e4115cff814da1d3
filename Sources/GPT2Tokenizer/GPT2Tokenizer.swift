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
/// A piece that is one vocabulary token is answered from an immutable table built at load time
/// (`BPEWholeTokenTable`), and a text of 2 KB or more gets a cache of its merged pieces for the
/// duration of the call (`BPEWordCache`). Nothing is shared mutably: the value is immutable and
/// cheap to copy, so share it freely across tasks; concurrent calls never contend for a lock.
///
/// Loading throws `TokenizerError` naming the file (and line) for missing or malformed files.
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
                                 !exists ? "directory not found"
                                    : isDirectory.boolValue ? "no tokenizer files: expected tokenizer.json, or vocab.json and merges.txt"
                                    : "not a directory (expected a model directory with tokenizer.json, or vocab.json and merges.txt)")
        }
    }

    /// Loads GPT-2's original pair of files.
    public init(vocabURL: URL, mergesURL: URL) throws {
        var definition = GPT2TokenizerDefinition(vocabularyFile: vocabURL.path, mergesFile: mergesURL.path,
                                                  vocabularyName: "vocab.json")
        definition.vocabulary = try TokenizerFileReader.readVocabJSON(vocabURL)
        // each merge makes a token (a vocabulary of fewer tokens than bytes is refused later, for that)
        definition.merges = try TokenizerFileReader.readMergesTXT(mergesURL, maxMerges: max(definition.vocabulary.count, 256))
        tables = try Tables(definition)
    }

    /// Loads a Hugging Face `tokenizer.json` (BPE model, ByteLevel pre-tokenizer).
    public init(tokenizerJSONURL: URL) throws {
        tables = try Tables(TokenizerFileReader.readTokenizerJSON(tokenizerJSONURL))
    }

    /// A tokenizer over tables already built (from bytes rather than files: tests, fuzz targets).
    init(tables: Tables) {
        self.tables = tables
    }

    /// Number of token ids; the ids are `0..<vocabularySize`.
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

// MARK: - Encoding

extension GPT2Tokenizer.Tables {
    /// Texts shorter than this are encoded without a piece cache: below about 2 KB, setting it up
    /// costs more than the repeated pieces save (measured on Benchmarks/mixed_en_zh.txt in chunks).
    static let cacheThreshold = 2048

    func encode(utf8 text: UnsafeBufferPointer<UInt8>, allowSpecialTokens: Bool) -> [Int] {
        guard let base = text.baseAddress, text.count > 0 else { return [] }
        let n = text.count
        var out: [Int] = []
        out.reserveCapacity(n / 2 + 16)
        GPT2PreTokenizer.bmpClassTable.withUnsafeBufferPointer { classes in
            byteTokens.withUnsafeBufferPointer { byteTokens in
            tokenBytes.withUnsafeBufferPointer { tokenBytes in
            tokenOffsets.withUnsafeBufferPointer { tokenOffsets in
            wholeTokens.withView(tokenBytes: tokenBytes.baseAddress!, tokenOffsets: tokenOffsets.baseAddress!) { wholeTokens in
                merges.withView { merges in
                    var encoder = PieceEncoder(
                        text: base, classes: classes.baseAddress!,
                        merger: BPEMerger(merges: merges, byteTokens: byteTokens.baseAddress!),
                        wholeTokens: wholeTokens,
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
    let wholeTokens: BPEWholeTokenTable.View
    var cache: BPEWordCache?
    var ids: UnsafeMutablePointer<Int32>
    var pairs: UnsafeMutablePointer<UInt64>
    var scratchCapacity: Int

    init(text: UnsafePointer<UInt8>, classes: UnsafePointer<UInt8>, merger: BPEMerger,
         wholeTokens: BPEWholeTokenTable.View, useCache: Bool, textLength: Int) {
        self.text = text
        self.classes = classes
        self.merger = merger
        self.wholeTokens = wholeTokens
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
            let h = BPEWordCache.hash(text + pieceStart, length)
            let whole = wholeTokens.lookup(text + pieceStart, length, hash: h)
            if whole >= 0 {
                out.append(whole)
                continue
            }
            if cache != nil {
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
