// Fuzzes encoding and decoding with the real GPT-2 vocabulary (Models/sales-demo).
// First byte even: the rest is text (invalid UTF-8 is repaired, as String(decoding:) does);
// encoding must round-trip exactly. First byte odd: the rest is little-endian Int32 token ids,
// folded into -51000...51000 so that both valid and out-of-range ids occur; decoding and
// streaming decoding must agree.
import Foundation
import FuzzSupport
import GPT2Tokenizer

private let tokenizer: GPT2Tokenizer = {
    do {
        return try GPT2Tokenizer(directory: repositoryRoot.appendingPathComponent("Models/sales-demo"))
    } catch {
        fatalError("cannot load the GPT-2 tokenizer from Models/sales-demo: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let mode = data[0]
    let rest = UnsafeBufferPointer(start: data + 1, count: size - 1)
    if mode & 1 == 0 {
        let text = String(decoding: rest, as: UTF8.self)
        let allowSpecial = mode & 2 == 0
        let ids = tokenizer.encode(text, allowSpecialTokens: allowSpecial)
        require(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize }, "id out of range")
        require(tokenizer.decode(ids).utf8.elementsEqual(text.utf8), "decode(encode(text)) != text")
        if !allowSpecial {
            require(!ids.contains(tokenizer.endOfTextID), "<|endoftext|> produced with special tokens off")
        }
        if mode & 4 != 0 { checkStreaming(tokenizer, ids) }
    } else {
        var ids: [Int] = []
        ids.reserveCapacity(rest.count / 4)
        var i = 0
        while i + 4 <= rest.count {
            let raw = UnsafeRawBufferPointer(rest).loadUnaligned(fromByteOffset: i, as: Int32.self)
            ids.append(Int(Int32(littleEndian: raw)) % 51001)
            i += 4
        }
        checkStreaming(tokenizer, ids)
        let valid = ids.filter { $0 >= 0 && $0 < tokenizer.vocabularySize }
        require(tokenizer.decode(ids).utf8.elementsEqual(tokenizer.decode(valid).utf8), "out-of-range ids are not skipped")
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
