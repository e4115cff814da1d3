extension GPT2Tokenizer {
    /// Everything the tokenizer knows, checked and laid out for the encoder. Immutable.
    ///
    /// Built from a `GPT2TokenizerDefinition`, checking that ids are exactly `0..<n` with each id
    /// and each spelling once, that all 256 byte tokens exist, that every merge names known
    /// tokens and yields a known token, and that `<|endoftext|>` exists.
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
        /// Pieces that are one token, answered without merging.
        let wholeTokens: BPEWholeTokenTable
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
            let vocabName = d.vocabularyName
            let n = d.vocabulary.count
            guard n > 0 else { throw TokenizerError(.invalidVocabulary, file: vocabFile, "the vocabulary is empty") }
            guard n < 1 << 24 else {
                throw TokenizerError(.invalidVocabulary, file: vocabFile, "the vocabulary has \(n) tokens, more than this tokenizer supports (2^24)")
            }

            // Ids must be exactly 0..<n, each spelling once.
            var lineOfID = [Int](repeating: 0, count: n)
            var entryOfID = [Int](repeating: 0, count: n)
            var index = TokenSpellingIndex(capacity: n)
            for (entry, token) in d.vocabulary.enumerated() {
                guard token.id >= 0 else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(quoted(token.spelling)) has a negative id \(token.id)")
                }
                guard token.id < n else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(quoted(token.spelling)) has id \(token.id), out of range: \(vocabName) has \(n) tokens, so ids must be 0...\(n - 1)")
                }
                if lineOfID[token.id] != 0 {
                    let first = d.vocabulary[entryOfID[token.id]].spelling
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "id \(token.id) is given to both \(quoted(first)) (line \(lineOfID[token.id])) and \(quoted(token.spelling))")
                }
                if let other = index.insert(token.spelling, id: Int32(token.id)) {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: token.line,
                                         "token \(quoted(token.spelling)) appears twice (first at line \(lineOfID[Int(other)]))")
                }
                lineOfID[token.id] = token.line
                entryOfID[token.id] = entry
            }

            // Raw bytes of every token of the vocabulary.
            var flat: [UInt8] = []
            flat.reserveCapacity(n * 8)
            var offsets: [Int] = [0]
            offsets.reserveCapacity(n + 1 + d.addedTokens.count)
            var literal = Set<Int>()
            for id in 0..<n {
                let spelling = d.vocabulary[entryOfID[id]].spelling
                if !GPT2ByteEncoder.decode(utf8: spelling, appendingTo: &flat) {
                    // Not in the byte alphabet: a literal token such as an added "<pad>" in the vocabulary.
                    flat.append(contentsOf: spelling)
                    literal.insert(id)
                }
                offsets.append(flat.count)
            }

            // Added tokens: either the vocabulary's own token (same text) or a new id.
            var addedBytes: [Int: [UInt8]] = [:]
            var specials: [SpecialToken] = []
            var specialContents = Set<[UInt8]>()
            // New ids follow the vocabulary: n added tokens can use at most ids up to n above it.
            // Bounding them by the file's own size keeps a tiny file from sizing the id table
            // (which has one entry per id up to the largest) to millions of entries.
            let idLimit = min(n + d.addedTokens.count, 1 << 24)
            for added in d.addedTokens {
                let q = quoted(added.content)
                guard added.id >= 0, added.id < idLimit else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                         "added token \(q) has an id out of range: \(added.id) (ids must be 0...\(idLimit - 1): \(vocabName) has \(n) tokens and there are \(d.addedTokens.count) added tokens)")
                }
                if added.id < n {
                    let spelling = d.vocabulary[entryOfID[added.id]].spelling
                    guard spelling.elementsEqual(added.content)
                            || flat[offsets[added.id]..<offsets[added.id + 1]].elementsEqual(added.content) else {
                        throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                             "added token \(q) has id \(added.id), which \(vocabName) gives to \(quoted(spelling))")
                    }
                }
                if let existing = addedBytes[added.id], existing != added.content {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile, line: added.line,
                                         "id \(added.id) is given to two added tokens, \(quoted(existing)) and \(q)")
                }
                addedBytes[added.id] = added.content
                literal.insert(added.id)
                if specialContents.insert(added.content).inserted {  // a set: no quadratic scan
                    specials.append(SpecialToken(bytes: added.content, id: Int32(added.id)))
                }
            }
            if !addedBytes.isEmpty {
                // Lay the bytes out again with the added tokens' text (and any new ids).
                let size = max(n, (addedBytes.keys.max() ?? 0) + 1)
                var newFlat: [UInt8] = []
                newFlat.reserveCapacity(flat.count)
                var newOffsets: [Int] = [0]
                newOffsets.reserveCapacity(size + 1)
                for id in 0..<size {
                    if let bytes = addedBytes[id] {
                        newFlat.append(contentsOf: bytes)
                    } else if id < n {
                        newFlat.append(contentsOf: flat[offsets[id]..<offsets[id + 1]])
                    }  // else: an unused id between added ones decodes to nothing
                    newOffsets.append(newFlat.count)
                }
                flat = newFlat
                offsets = newOffsets
            }

            // With GPT-2's own two files, <|endoftext|> is the one special token.
            let eotInVocabulary = Tables.endOfText.withUnsafeBytes { index.lookup($0) }
            if d.addedTokens.isEmpty, let id = eotInVocabulary {
                specials.append(SpecialToken(bytes: Tables.endOfText, id: id))
                literal.insert(Int(id))
            }
            specials.sort { $0.bytes.count > $1.bytes.count }
            guard let eot = specials.first(where: { $0.bytes == Tables.endOfText })?.id ?? eotInVocabulary else {
                throw TokenizerError(.invalidVocabulary, file: vocabFile, "no <|endoftext|> token in \(vocabName)")
            }

            // One token per byte value.
            var byteTokens = [Int32](repeating: 0, count: 256)
            for b in 0..<256 {
                let spelling = Array(String(GPT2ByteEncoder.scalars[b]).utf8)
                guard let id = spelling.withUnsafeBytes({ index.lookup($0) }) else {
                    throw TokenizerError(.invalidVocabulary, file: vocabFile,
                                         "no token for byte 0x\(String(b, radix: 16, uppercase: true)) (spelled \"\(GPT2ByteEncoder.scalars[b])\") in \(vocabName); a byte-level BPE vocabulary needs all 256")
                }
                byteTokens[b] = id
            }

            // Merge rules, in rank order.
            var rules: [(left: Int32, right: Int32, merged: Int32)] = []
            rules.reserveCapacity(d.merges.count)
            var joined: [UInt8] = []
            for merge in d.merges {
                guard let left = merge.left.withUnsafeBytes({ index.lookup($0) }) else {
                    throw TokenizerError(.invalidMerges, file: d.mergesFile, line: merge.line,
                                         "unknown token \(quoted(merge.left)): not in \(vocabName)")
                }
                guard let right = merge.right.withUnsafeBytes({ index.lookup($0) }) else {
                    throw TokenizerError(.invalidMerges, file: d.mergesFile, line: merge.line,
                                         "unknown token \(quoted(merge.right)): not in \(vocabName)")
                }
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: merge.left)
                joined.append(contentsOf: merge.right)
                guard let merged = joined.withUnsafeBytes({ index.lookup($0) }) else {
                    throw TokenizerError(.invalidMerges, file: d.mergesFile, line: merge.line,
                                         "the merged token \(quoted(joined)) is not in \(vocabName)")
                }
                rules.append((left, right, merged))
            }
            let mergeTable = BPEMergeTable(rules: rules)

            // Tokens that BPE rebuilds from their own bytes can be looked up whole.
            let candidates = (0..<n).filter { !literal.contains($0) && offsets[$0 + 1] - offsets[$0] >= 2 }
            let longest = candidates.map { offsets[$0 + 1] - offsets[$0] }.max() ?? 0
            wholeTokens = byteTokens.withUnsafeBufferPointer { byteTokenIDs in
                mergeTable.withView { view in
                    flat.withUnsafeBufferPointer { bytes in
                        let merger = BPEMerger(merges: view, byteTokens: byteTokenIDs.baseAddress!)
                        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: longest + 1)
                        let pairs = UnsafeMutablePointer<UInt64>.allocate(capacity: longest + 1)
                        defer { ids.deallocate(); pairs.deallocate() }
                        return BPEWholeTokenTable(tokenBytes: flat, tokenOffsets: offsets, candidates: candidates) { id in
                            let count = merger.merge(bytes.baseAddress! + offsets[id], offsets[id + 1] - offsets[id],
                                                     ids: ids, pairs: pairs)
                            return count == 1 && ids[0] == Int32(id)
                        }
                    }
                }
            }

            tokenBytes = flat
            tokenOffsets = offsets
            self.byteTokens = byteTokens
            merges = mergeTable
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
            let start = tokenOffsets[id], end = tokenOffsets[id + 1]
            tokenBytes.withUnsafeBufferPointer { all in
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: all[start..<end]))
            }
        }
    }
}

/// Token spelling → id while loading: open addressing over the spellings' bytes, so that the
/// 150,000 lookups of a merges file allocate nothing and compare bytes exactly (never by Unicode
/// canonical equivalence, as `String` keys would).
struct TokenSpellingIndex {
    /// `hash & ~idMask | (id + 1)`; 0 is an empty slot.
    private var slots: [UInt64]
    private var spellings: [UInt8] = []
    private var start: [Int]
    private var length: [Int]
    private let mask: Int
    private static let idMask: UInt64 = (1 << 25) - 1

    /// For ids `0..<capacity`.
    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        start = [Int](repeating: 0, count: capacity)
        length = [Int](repeating: 0, count: capacity)
        spellings.reserveCapacity(capacity * 8)
    }

    /// Adds `spelling` for `id`; returns the id that already has this spelling, if any.
    mutating func insert(_ spelling: ArraySlice<UInt8>, id: Int32) -> Int32? {
        let h = spelling.withUnsafeBytes { hash($0) }
        if let existing = spelling.withUnsafeBytes({ find($0, hash: h) }) { return existing }
        start[Int(id)] = spellings.count
        length[Int(id)] = spelling.count
        spellings.append(contentsOf: spelling)
        var slot = Int(truncatingIfNeeded: h >> 40) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = h & ~TokenSpellingIndex.idMask | UInt64(id + 1)
        return nil
    }

    func lookup(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        find(bytes, hash: hash(bytes))
    }

    private func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 1 << 40 | 1 }
        return BPEWordCache.hash(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    private func find(_ bytes: UnsafeRawBufferPointer, hash h: UInt64) -> Int32? {
        let tag = h & ~TokenSpellingIndex.idMask
        var slot = Int(truncatingIfNeeded: h >> 40) & mask
        return spellings.withUnsafeBytes { all -> Int32? in
            while true {
                let s = slots[slot]
                if s == 0 { return nil }
                if s & ~TokenSpellingIndex.idMask == tag {
                    let id = Int(s & TokenSpellingIndex.idMask) - 1
                    if length[id] == bytes.count,
                       bytes.count == 0 || bytesEqual(all.baseAddress!.assumingMemoryBound(to: UInt8.self) + start[id],
                                                      bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count) {
                        return Int32(id)
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }
}

/// A token or text quoted for an error message.
private func quoted(_ bytes: some Collection<UInt8>) -> String {
    TokenizerFileReader.quote(Array(bytes))
}
