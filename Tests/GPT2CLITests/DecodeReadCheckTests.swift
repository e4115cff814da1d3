import Foundation
import Testing
import TestSupport
import GPT2
@testable import gpt2_bench

/// The bare read that `gpt2-bench decode-read` compares the decode products with: it must read
/// every byte of the blocks' matrices (its sum is theirs) and no other.
@Suite struct DecodeReadCheckTests {
    /// Σ and bytes of the blocks' four Conv1D weights in a float32 fixture, from the file.
    static func blockMatrices(_ directory: URL) throws -> (sum: Double, absoluteSum: Double, bytes: Int) {
        // the safetensors format: an 8-byte little-endian header length, a JSON header, the data
        let file = try Data(contentsOf: directory.appendingPathComponent("model.safetensors"))
        let headerLength = Int(file.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(try JSONSerialization.jsonObject(with: file[8..<(8 + headerLength)]) as? [String: Any])
        var sum = 0.0, absoluteSum = 0.0, bytes = 0
        for (name, entry) in header {
            guard ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"].contains(where: { name.hasSuffix($0) }),
                  let entry = entry as? [String: Any], let offsets = entry["data_offsets"] as? [Int] else { continue }
            #expect(entry["dtype"] as? String == "F32")
            let data = file[(8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])]
            bytes += data.count
            Data(data).withUnsafeBytes { raw in
                for i in 0..<(raw.count / 4) {
                    let value = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                    sum += value
                    absoluteSum += abs(value)
                }
            }
        }
        return (sum, absoluteSum, bytes)
    }

    @Test("the bare read sums exactly the blocks' matrices", arguments: WeightResidency.allCases)
    func bareReadCoversTheMatrices(residency: WeightResidency) throws {
        let directory = TestPaths.reference.appendingPathComponent("tiny-gpt2-f32")
        let expected = try Self.blockMatrices(directory)
        let model = try GPT2Model(directory: directory, residency: residency)
        #expect(model.blockMatrixBytes == expected.bytes)
        let read = model.timeBlockBareRead(passes: 2)
        #expect(read.seconds > 0)
        // float sums of a few thousand values per chunk: rounding far below a missed or doubled row
        #expect(abs(read.sum - expected.sum) <= 1e-5 * expected.absoluteSum, "\(read.sum) vs \(expected.sum)")
        #expect(model.timeBlockProducts(passes: 1) > 0)
    }
}
