import Foundation
@testable import GPT2

/// Writes safetensors files for tests: well-formed ones re-arranged from a fixture (other key
/// names, shards, dtypes) and deliberately broken ones.
struct SafeTensorsWriter {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: Data
    }

    var tensors: [Tensor] = []

    /// All tensors of an existing file, in file order.
    static func read(_ url: URL) throws -> SafeTensorsWriter {
        let file = try SafeTensorsFile(url: url)
        let data = try Data(contentsOf: url)
        let tensors = file.entries.values.sorted { $0.range.lowerBound < $1.range.lowerBound }.map {
            Tensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, data: data.subdata(in: $0.range))
        }
        return SafeTensorsWriter(tensors: tensors)
    }

    /// The header JSON and data of the file, with offsets laid out back to back.
    func header(offsets: [(Int, Int)]? = nil) -> [String: Any] {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for (i, tensor) in tensors.enumerated() {
            let range = offsets?[i] ?? (offset, offset + tensor.data.count)
            header[tensor.name] = ["dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [range.0, range.1]]
            offset += tensor.data.count
        }
        return header
    }

    /// Serialises the file; `headerJSON` replaces the header text when given.
    func encoded(headerJSON: Data? = nil, declaredHeaderLength: UInt64? = nil) throws -> Data {
        var json = try headerJSON ?? JSONSerialization.data(withJSONObject: header(), options: [.sortedKeys])
        // Pad like the reference writer does, so float32 data stays 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var length = (declaredHeaderLength ?? UInt64(json.count)).littleEndian
        var file = Data(bytes: &length, count: 8)
        file.append(json)
        for tensor in tensors { file.append(tensor.data) }
        return file
    }

    func write(to url: URL) throws {
        try encoded().write(to: url)
    }

    mutating func rename(_ transform: (String) -> String) {
        for i in tensors.indices { tensors[i].name = transform(tensors[i].name) }
    }

    /// float32 tensors re-encoded as bfloat16 (truncating) or float16.
    mutating func convertFloat32(to dtype: String) {
        for i in tensors.indices where tensors[i].dtype == "F32" {
            let floats = tensors[i].data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            var out = Data(capacity: floats.count * 2)
            for value in floats {
                var bits: UInt16 = dtype == "BF16" ? UInt16(value.bitPattern >> 16) : Float16(value).bitPattern
                withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
            }
            tensors[i].dtype = dtype
            tensors[i].data = out
        }
    }
}

extension SafeTensorsWriter.Tensor {
    /// A float32 tensor with the given values.
    static func float32(_ name: String, _ shape: [Int], _ values: [Float]) -> Self {
        Self(name: name, dtype: "F32", shape: shape, data: values.withUnsafeBytes { Data($0) })
    }
}
