// Fuzzes the vocab.json + merges.txt loader. The input is vocab.json, a NUL byte, then
// merges.txt; without a NUL byte it is vocab.json alone, with a small valid merges.txt.
// A tokenizer that loads is then used (encode, decode, streaming decode).
import Foundation
import FuzzSupport
@testable import GPT2Tokenizer

private let fixedMerges = Array("#version: 0.2\nĠ t\nh e\nĠt he\n".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let vocab: [UInt8], merges: [UInt8]
    if let nul = input.firstIndex(of: 0) {
        vocab = Array(input[..<nul])
        merges = Array(input[(nul + 1)...])
    } else {
        vocab = input
        merges = fixedMerges
    }
    var definition = GPT2TokenizerDefinition(vocabularyFile: "vocab.json", mergesFile: "merges.txt",
                                             vocabularyName: "vocab.json")
    do {
        definition.vocabulary = try TokenizerFileReader.parseVocabJSON(vocab, file: "vocab.json")
        definition.merges = try TokenizerFileReader.parseMergesTXT(merges, file: "merges.txt")
    } catch {
        return 0
    }
    guard let tables = try? GPT2Tokenizer.Tables(definition) else { return 0 }
    exercise(GPT2Tokenizer(tables: tables), extraText: String(decoding: merges.prefix(256), as: UTF8.self))
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
