import Foundation
import Testing
@_spi(Profiling) @testable import GPT2

/// The bare read that `gpt2-bench decode-read` compares the decode products with: it must read
/// every byte of the blocks' matrices (its sum is theirs) and no other.
@Suite struct DecodeReadCheckTests {
    /// Σ and bytes of the blocks' four Conv1D weights in a float32 fixture, from the file.
    static func blockMatrices(_ directory: URL) throws -> (sum: Double, absoluteSum: Double, bytes: Int) {
        let file = try SafeTensorsWriter.read(directory.appendingPathComponent("model.safetensors"))
        let matrices = file.tensors.filter { tensor in
            ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"].contains { tensor.name.hasSuffix($0) }
        }
        var sum = 0.0, absoluteSum = 0.0, bytes = 0
        for tensor in matrices {
            #expect(tensor.dtype == "F32")
            bytes += tensor.data.count
            tensor.data.withUnsafeBytes { raw in
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
