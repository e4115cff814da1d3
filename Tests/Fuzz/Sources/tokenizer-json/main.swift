// Fuzzes the tokenizer.json loader; a tokenizer that loads is then used.
import Foundation
import FuzzSupport
@testable import GPT2Tokenizer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let definition = try? TokenizerFileReader.parseTokenizerJSON(input, file: "tokenizer.json"),
          let tables = try? GPT2Tokenizer.Tables(definition) else { return 0 }
    exercise(GPT2Tokenizer(tables: tables), extraText: String(decoding: input.suffix(256), as: UTF8.self))
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
