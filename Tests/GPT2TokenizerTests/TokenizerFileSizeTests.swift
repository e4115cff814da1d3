import Foundation
import Testing
import TestSupport
@testable import GPT2Tokenizer

/// Model and tokenizer files are read whole (`readWholeFile`): a file larger than its kind's
/// limit is refused by its size before anything is read, and a file that reports no size or a
/// wrong one is read no further than the limit.
@Suite struct TokenizerFileSizeTests {
    /// A file of `size` bytes that takes no disk space: a hole, read back as zeros.
    static func sparseFile(_ directory: TemporaryDirectory, _ name: String, size: Int, prefix: String = "") throws -> URL {
        let url = try directory.write(name, prefix)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size))
        return url
    }

    @Test("a file over the limit is refused by its size, unread", arguments: [1025, 4096, 1 << 40])
    func overTheLimitByItsSize(size: Int) throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        let url = try Self.sparseFile(directory, "big", size: size)
        #expect(throws: WholeFileError.tooLarge(size: size, limit: 1024)) { try readWholeFile(url, limit: 1024) }
    }

    @Test("a file of exactly the limit, or less, is read whole", arguments: [0, 1, 1023, 1024])
    func upToTheLimitIsReadWhole(size: Int) throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let url = try directory.write("file", bytes: bytes)
        #expect(try readWholeFile(url, limit: 1024) == bytes)
    }

    /// /proc's files say they are empty but are not: the read stops one byte past the limit.
    @Test("a file that reports no size is read up to the limit, and refused past it")
    func fileWithoutASize() throws {
        let url = URL(fileURLWithPath: "/proc/self/status")
        var info = stat()
        try #require(stat(url.path, &info) == 0 && info.st_size == 0, "no /proc here")
        let whole = try readWholeFile(url, limit: 1 << 20)
        #expect(String(decoding: whole, as: UTF8.self).contains("VmRSS"))
        #expect(throws: WholeFileError.tooLarge(size: nil, limit: 64)) { try readWholeFile(url, limit: 64) }
        #expect(whole.count > 64)
    }

    @Test("a FIFO, a device or a directory is refused without blocking or reading")
    func notRegularFiles() throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        for url in [fifo, URL(fileURLWithPath: "/dev/zero"), directory.url] {
            #expect(throws: WholeFileError.notRegularFile, "\(url.path)") { try readWholeFile(url, limit: 1 << 20) }
        }
        #expect(throws: WholeFileError.self) { try readWholeFile(directory.file("missing"), limit: 1 << 20) }
    }

    /// A 2 GB vocab.json (a hole: no disk space) is refused before it is read, with a message
    /// naming the file, its size and the limit; so is one just over the limit.
    @Test("a tokenizer file over the 64 MB limit is refused, naming the file, its size and the limit",
          arguments: ["vocab.json", "merges.txt", "tokenizer.json"], [64 << 20 + 1, 2 << 30])
    func tokenizerFileOverTheLimit(name: String, size: Int) throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        if name != "tokenizer.json" {
            try directory.write("vocab.json", TinyVocabulary.vocabJSON())
            try directory.write("merges.txt", TinyVocabulary.mergesTXT())
        }
        let url = try Self.sparseFile(directory, name, size: size, prefix: "{")
        let error = thrownError(TokenizerError.self) { _ = try GPT2Tokenizer(directory: directory.url) }
        #expect(error?.kind == .fileTooLarge)
        #expect(error?.file == url.path)
        #expect(error?.message == "\(size) bytes, over the 64 MB limit for this file", "\(String(describing: error))")
    }

    /// Each merge makes a token, so a merges list longer than the vocabulary is degenerate: a
    /// 64 MB merges.txt of "a b" lines would otherwise be built into gigabytes of merges.
    @Test("more merges than vocabulary tokens are refused, in merges.txt and in tokenizer.json", arguments: [261, 1_000_000])
    func moreMergesThanTokens(count: Int) throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        try directory.write("vocab.json", TinyVocabulary.vocabJSON())
        try directory.write("merges.txt", TinyVocabulary.mergesTXT(Array(repeating: "h e", count: 260)))
        #expect(try GPT2Tokenizer(directory: directory.url).vocabularySize == 260)
        try directory.write("merges.txt", TinyVocabulary.mergesTXT(Array(repeating: "h e", count: count)))
        let error = thrownError(TokenizerError.self) { _ = try GPT2Tokenizer(directory: directory.url) }
        #expect(error?.description == "\(directory.file("merges.txt").path), line 262: more than 260 merges, more than the vocabulary has tokens; each merge makes a token")

        let json = TinyVocabulary.tokenizerJSON(pairs: false, mergeEntries: Array(repeating: #""h e""#, count: count))
        try directory.write("tokenizer.json", json)
        let jsonError = thrownError(TokenizerError.self) { _ = try GPT2Tokenizer(directory: directory.url) }
        #expect(jsonError?.kind == .invalidMerges)
        #expect(jsonError?.message == "\(count) merges, more than \"model.vocab\" has tokens (260); each merge makes a token", "\(String(describing: jsonError))")
    }

    /// Under the byte limit, a file of tiny entries would still be built into hundreds of
    /// megabytes of parsed values: the parse counts values and stops at the bound.
    @Test("a JSON document of more values than the bound is refused where the bound is passed")
    func valueBound() throws {
        let document = Array("[1, [2, 3],\n {\"a\": 4}]".utf8)  // 7 values, the 7th on line 2
        #expect(throws: Never.self) { try TokenizerJSON.parse(document, file: "f", maxValues: 7) }
        #expect(throws: TokenizerError(.fileTooLarge, file: "f", line: 2, "more than 6 JSON values, far more than a tokenizer file holds")) {
            try TokenizerJSON.parse(document, file: "f", maxValues: 6)
        }
    }

    /// 2,097,152 entries are a 30 MB vocab.json: under the byte limit, but built whole a file of
    /// such entries took about 600 MB.
    @Test("a vocab.json and a tokenizer.json of more entries than any tokenizer has are refused, naming the file")
    func tooManyValues() throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        var vocab = Array("{".utf8)
        vocab.reserveCapacity(20 << 20)
        for i in 0..<TokenizerJSON.maxValues {
            vocab += Array("\"\(String(i, radix: 36))\":\(i),".utf8)
        }
        vocab[vocab.count - 1] = UInt8(ascii: "}")
        try directory.write("vocab.json", bytes: vocab)
        try directory.write("merges.txt", TinyVocabulary.mergesTXT())
        let error = thrownError(TokenizerError.self) { _ = try GPT2Tokenizer(directory: directory.url) }
        #expect(error?.description == "\(directory.file("vocab.json").path), line 1: more than 2097152 JSON values, far more than a tokenizer file holds")
        #expect(error?.kind == .fileTooLarge)

        let json = TinyVocabulary.tokenizerJSON(pairs: true, mergeEntries: Array(repeating: #"["h", "e"]"#, count: TokenizerJSON.maxValues / 3 + 1))
        try directory.write("tokenizer.json", json)
        let jsonError = thrownError(TokenizerError.self) { _ = try GPT2Tokenizer(directory: directory.url) }
        #expect(jsonError?.kind == .fileTooLarge, "\(String(describing: jsonError))")
        #expect(jsonError?.file == directory.file("tokenizer.json").path)
    }

    @Test("tokenizer files near the limit still load: the limit is on the size, not on the parse")
    func largeButAllowedTokenizerFile() throws {
        let directory = try TokenizerFixtures.temporaryDirectory()
        // the tiny vocabulary, padded with whitespace to exactly the limit
        var vocab = Array(TinyVocabulary.vocabJSON().utf8)
        vocab += [UInt8](repeating: UInt8(ascii: " "), count: TokenizerFileReader.maxFileBytes - vocab.count)
        try directory.write("vocab.json", bytes: vocab)
        try directory.write("merges.txt", TinyVocabulary.mergesTXT())
        #expect(try GPT2Tokenizer(directory: directory.url).vocabularySize == 260)
    }
}
