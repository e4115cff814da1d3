// Fuzzes the safetensors header parser: the input is a whole safetensors file.
import Foundation
import FuzzSupport
@testable import GPT2

private let url = URL(fileURLWithPath: "/fuzz/model.safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // libFuzzer hands over an exactly sized heap copy, so AddressSanitizer catches any read past it.
    let file = UnsafeRawBufferPointer(start: data, count: size)
    // The entry bound scales with n_layer: a header the bound for one block accepts, the bound for
    // the most blocks accepts the same; one the loose bound refuses, the tight one refuses too.
    let tight = try? SafeTensorsFile.parseHeader(file, url: url, layerCount: 1)
    guard let entries = try? SafeTensorsFile.parseHeader(file, url: url) else {
        require(tight == nil, "accepted for n_layer 1, refused for the most blocks")
        return 0
    }
    if let tight { require(tight.keys.sorted() == entries.keys.sorted(), "n_layer 1 and the most blocks parse different entries") }
    // What the loader relies on for every entry the parser accepts.
    let headerEnd = 8 + Int(file.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian)
    var ranges: [Range<Int>] = []
    for (name, entry) in entries {
        require(entry.name == name, "entry keyed \(name) is named \(entry.name)")
        require(entry.range.lowerBound >= headerEnd && entry.range.upperBound <= size,
                "tensor \(name) range \(entry.range) outside the data \(headerEnd)..<\(size)")
        require(entry.shape.allSatisfy { $0 >= 0 }, "negative dimension in \(entry.shape)")
        let (bytes, overflow) = entry.elementCount.multipliedReportingOverflow(by: entry.dtype.byteSize)
        require(!overflow && bytes == entry.range.count, "tensor \(name) needs \(bytes) bytes, range has \(entry.range.count)")
        if !entry.range.isEmpty {
            // Touch the first and last byte, as a conversion would.
            _ = file[entry.range.lowerBound]
            _ = file[entry.range.upperBound - 1]
            ranges.append(entry.range)
        }
    }
    ranges.sort { $0.lowerBound < $1.lowerBound }
    for (a, b) in zip(ranges, ranges.dropFirst()) {
        require(a.upperBound <= b.lowerBound, "ranges \(a) and \(b) overlap")
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
