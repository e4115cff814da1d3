import Foundation

/// The element types a safetensors file can declare, with their sizes.
/// The engine computes with `F32`, `F16` and `BF16` tensors; the others are recognised so that
/// a file holding them still validates, and are refused only if the model needs such a tensor.
enum SafeTensorsDType: String, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
    case F8_E4M3, F8_E5M2

    var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: 8
        case .F32, .I32, .U32: 4
        case .F16, .BF16, .I16, .U16: 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: 1
        }
    }
}

/// One `model.safetensors` file: a little-endian u64 header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the tensor data. The file is memory-mapped and
/// every number in the header is checked against the file before it is used.
struct SafeTensorsFile: Sendable {
    struct Entry: Sendable {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        /// Byte range of the tensor's data, relative to the start of the file.
        let range: Range<Int>
        var elementCount: Int { shape.reduce(1, *) }
    }

    /// The safetensors reference implementation refuses headers above 100 MB; so do we,
    /// so that a hostile length cannot make us parse gigabytes of JSON.
    static let maxHeaderBytes = 100_000_000

    /// The tensors a checkpoint of a GPT-2 model of `layerCount` blocks can hold: 14 a block (its 12
    /// parameters, and the `attn.bias` and `attn.masked_bias` buffers some exports include), `wte`,
    /// `wpe`, `ln_f`'s two and `lm_head`. The loader refuses any other tensor.
    static func maxTensors(layerCount: Int) -> Int { 14 * layerCount + 5 }

    /// The most entries a header may have for a GPT-2 model of `layerCount` blocks: twice its
    /// tensors, and `__metadata__`. Up to that, a checkpoint that disagrees with `config.json` is
    /// parsed, and refused with the first tensor the model has no place for; beyond it, unparsed.
    static func maxEntries(layerCount: Int) -> Int { 2 * maxTensors(layerCount: layerCount) + 1 }

    /// JSON values a header may have per entry it may have: a tensor's entry has seven, and one a
    /// dimension; the rest is room for metadata.
    static let valuesPerEntry = 64

    /// The longest entry name: GPT-2's longest, `transformer.h.1023.attn.masked_bias`, is 35 bytes.
    static let maxNameBytes = 1024

    let file: MappedFile
    let entries: [String: Entry]

    var url: URL { file.url }

    /// Maps the file at `url` and parses its header, for a GPT-2 model of at most `layerCount` blocks.
    init(url: URL, layerCount: Int = GPT2Config.maxLayerCount) throws {
        let file = try MappedFile(url: url)
        self.file = file
        self.entries = try Self.parseHeader(file.bytes, url: url, layerCount: layerCount)
    }

    /// Parses and validates the header of a safetensors image, for a GPT-2 model of at most
    /// `layerCount` blocks.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, url: URL,
                            layerCount: Int = GPT2Config.maxLayerCount) throws -> [String: Entry] {
        func fail(_ detail: String) -> ModelLoadingError {
            ModelLoadingError(.invalidSafetensors, file: url, detail)
        }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let declared = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard declared <= UInt64(bytes.count - 8) else {
            throw fail("header length \(declared) runs past the end of the file (\(bytes.count) bytes)")
        }
        guard declared <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(declared) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let headerLength = Int(declared)
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart

        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        if let problem = Self.scan(header, layerCount: layerCount) { throw fail(problem) }
        // the header in place, not a copy: the file outlives the parse
        let headerData = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + 8),
                              count: headerLength, deallocator: .none)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }

        // as the reference implementation: metadata, where present, maps strings to strings
        if let metadata = object["__metadata__"], !(metadata is NSNull) {
            guard let strings = metadata as? [String: Any], strings.values.allSatisfy({ $0 is String }) else {
                throw fail("\"__metadata__\" is not an object of strings")
            }
        }
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(object.count)
        for (name, value) in object where name != "__metadata__" {
            guard let info = value as? [String: Any] else {
                throw fail("entry \"\(name)\" is not an object")
            }
            guard let dtypeName = info["dtype"] as? String else {
                throw fail("tensor \"\(name)\" has no dtype")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw ModelLoadingError(.unknownDType, file: url, "tensor \"\(name)\" has unknown dtype \"\(dtypeName)\"")
            }
            guard let shapeValues = info["shape"] as? [Any],
                  let shape = nonNegativeInts(shapeValues) else {
                throw fail("tensor \"\(name)\" has no valid shape (a list of non-negative integers)")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], offsetValues.count == 2,
                  let offsets = nonNegativeInts(offsetValues) else {
                throw fail("tensor \"\(name)\" has no valid data_offsets (two non-negative integers)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw fail("tensor \"\(name)\" has data_offsets [\(begin), \(end)] that end before they begin")
            }
            guard end <= dataSize else {
                throw fail("tensor \"\(name)\" ends at byte \(end) of the data, past its end (\(dataSize) bytes; the file may be truncated)")
            }
            // Checked products: a hostile shape must not overflow into a small, plausible size.
            var byteCount = dtype.byteSize
            for dimension in shape {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw fail("tensor \"\(name)\" has a shape \(shape) whose size overflows") }
                byteCount = product
            }
            guard byteCount == end - begin else {
                throw fail("tensor \"\(name)\" of shape \(shape) and dtype \(dtypeName) needs \(byteCount) bytes but data_offsets give \(end - begin)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape,
                                  range: (dataStart + begin)..<(dataStart + end))
        }

        // as the reference implementation: the tensors tile the data section exactly, with no
        // overlap, no hole and nothing after the last one
        let sorted = entries.values.sorted { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var covered = dataStart
        var previous: Entry?
        for entry in sorted {
            if entry.range.lowerBound < covered, let previous {
                throw fail("tensors \"\(previous.name)\" and \"\(entry.name)\" overlap")
            }
            guard entry.range.lowerBound == covered else {
                throw fail("the data section has a hole of \(entry.range.lowerBound - covered) bytes before tensor \"\(entry.name)\"")
            }
            covered = entry.range.upperBound
            previous = entry
        }
        guard covered == bytes.count else {
            throw fail("\(bytes.count - covered) bytes after the last tensor's data: the tensors do not cover the data section")
        }
        return entries
    }

    /// The first bound a header's JSON goes past, or nil: its entries (the members of the top-level
    /// object, counted by their names), the values in all (each container, and each element after
    /// a container's first) and the length of an entry name. Counted without building anything and
    /// stopping at the first excess, so that a header of a million tiny entries, or a shape of a
    /// million dimensions, is refused before JSONSerialization makes an object of each value;
    /// the parse that follows checks the syntax.
    static func scan(_ header: UnsafeRawBufferPointer, layerCount: Int) -> String? {
        let maxEntries = maxEntries(layerCount: layerCount), maxValues = maxEntries * valuesPerEntry
        let model = "a GPT-2 model with n_layer \(layerCount)"
        var depth = 0, entries = 0, values = 0
        var inString = false, escaped = false, stringStart = 0
        for (offset, byte) in header.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 1 {  // a name (or a misplaced value, which the parse refuses)
                        entries += 1
                        if entries > maxEntries {
                            return "header has more than \(maxEntries) entries, over twice the \(maxTensors(layerCount: layerCount)) tensors \(model) can use"
                        }
                        if offset - stringStart > maxNameBytes {
                            return "header has an entry name of \(offset - stringStart) bytes; a tensor name has at most \(maxNameBytes)"
                        }
                    }
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true; stringStart = offset + 1
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; values += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): values += 1
            default: continue
            }
            if values > maxValues {
                return "header has more than \(maxValues) JSON values, \(valuesPerEntry) for each entry \(model) may have: a shape or the metadata is too large"
            }
        }
        return nil
    }

    /// Converts JSON numbers to `Int`s, refusing negatives, fractions and values too large to be sizes.
    private static func nonNegativeInts(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            // integers only, as the reference's usize: not `true`, not `1.0` (a double: C type "d")
            guard let number = jsonNumber(value), !["d", "f"].contains(String(cString: number.objCType)) else { return nil }
            let double = number.doubleValue
            guard double >= 0, double < 0x1p62, double == double.rounded(.towardZero) else { return nil }
            result.append(number.intValue)
        }
        return result
    }
}
