import CLibFuzzer
import Foundation
import GPT2Tokenizer

/// Stops the process, which libFuzzer reports as a crash with the input that caused it, when an
/// invariant the parsers promise does not hold. (A thrown error is never a finding: refusing a
/// bad file is the parsers' job.)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant violated: \(message())", file: file, line: line) }
}

/// The input as an array of bytes.
public func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// The repository root, from this file's place in it (Tests/Fuzz/Sources/FuzzSupport/).
public let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Texts to encode with a tokenizer that a fuzz input produced: plain ASCII, words, spaces,
/// numbers, contractions, CJK, emoji, invalid-then-repaired UTF-8, special-token lookalikes.
public let sampleTexts: [String] = [
    "", "a", "hello world", "Hello, world! It's 2024; we'll see.", "  \n\n\t x  ",
    "<|endoftext|>", "a<|endoftext|>b<|endoftext", "<|pad|><s></s>", "中文字符和emoji 😀👍🏽",
    String(decoding: [0xC3, 0x28, 0xE2, 0x82, 0x41, 0xF0, 0x9F, 0x98], as: UTF8.self),
    String(repeating: "ab ", count: 50) + String(repeating: "x", count: 300),
]

/// Uses a tokenizer the way a generator would and checks what holds for any tokenizer: every
/// id it produces is in range, decoding any id never fails, and streaming decode gives the same
/// text as decoding all at once.
public func exercise(_ tokenizer: GPT2Tokenizer, extraText: String) {
    let n = tokenizer.vocabularySize
    require(n > 0, "a loaded tokenizer has an empty vocabulary")
    require(tokenizer.endOfTextID >= 0 && tokenizer.endOfTextID < n, "endOfTextID \(tokenizer.endOfTextID) outside 0..<\(n)")
    for text in sampleTexts + [extraText] {
        for allow in [true, false] {
            let ids = tokenizer.encode(text, allowSpecialTokens: allow)
            require(ids.allSatisfy { $0 >= 0 && $0 < n }, "encode produced an id outside 0..<\(n)")
            if !text.isEmpty { require(!ids.isEmpty, "a non-empty text encoded to no ids") }
            checkStreaming(tokenizer, ids)
        }
    }
    // Every id (bounded, for speed), and ids just outside the range.
    let probe = Array(-2..<min(n, 512)) + [n - 1, n, n + 1, Int.max, Int.min]
    for id in probe {
        let bytes = tokenizer.tokenBytes(id)
        if id < 0 || id >= n {
            require(bytes.isEmpty, "tokenBytes(\(id)) of an out-of-range id is not empty")
            require(tokenizer.tokenString(id) == nil, "tokenString(\(id)) of an out-of-range id is not nil")
        } else {
            _ = tokenizer.tokenString(id)
        }
    }
    checkStreaming(tokenizer, probe)
}

/// Streaming decode, one id at a time and in chunks, must equal one-shot decode.
public func checkStreaming(_ tokenizer: GPT2Tokenizer, _ ids: [Int]) {
    let whole = tokenizer.decode(ids)
    var stream = StreamingDecoder(tokenizer: tokenizer)
    var text = ""
    for id in ids { text += stream.append(id) }
    text += stream.finish()
    require(text.utf8.elementsEqual(whole.utf8), "streaming decode differs from decode")
    require(!stream.hasPendingBytes, "finish() left bytes pending")
    var chunked = StreamingDecoder(tokenizer: tokenizer)
    var text2 = ""
    var i = 0
    while i < ids.count {
        let end = min(ids.count, i + 1 + (i % 3))
        text2 += chunked.append(contentsOf: ids[i..<end])
        i = end
    }
    text2 += chunked.finish()
    require(text2.utf8.elementsEqual(whole.utf8), "chunked streaming decode differs from decode")
}

/// Runs libFuzzer (its usual command line: corpus directories, `-max_total_time=`, ...) on
/// `testOneInput`, and exits with its status.
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}

/// A valid pointer for an empty input (libFuzzer may pass null with size 0). Never written.
nonisolated(unsafe) public let emptyInput: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()
