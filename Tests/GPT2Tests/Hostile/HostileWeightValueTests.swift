import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Weights that are well-formed but not finite: one NaN or infinity anywhere turns every later
/// logit into NaN, so the load refuses it, naming the file, the tensor and the element. Weights
/// that are finite but overflow float32 on some input fail the request that meets them.
@Suite struct HostileWeightValueTests {
    struct Case: CustomTestStringConvertible, Sendable {
        /// The tensor (without `transformer.`), the element, and the bits put there.
        let tensor: String
        let index: Int
        let bits: UInt32
        /// The dtype the checkpoint is rewritten to (F32, F16 or BF16) and how it is loaded.
        let dtype: String
        let residency: WeightResidency
        let precision: WeightPrecision
        /// What the message must say about the value and where it is.
        let kind: String
        let position: String

        var testDescription: String { "\(tensor)[\(index)] \(kind), \(dtype) \(residency) \(precision)" }
    }

    static let nan32 = Float.nan.bitPattern, infinity32 = Float.infinity.bitPattern
    static let cases: [Case] = [
        Case(tensor: "h.1.attn.c_attn.weight", index: 17, bits: nan32, dtype: "F32", residency: .mapped,
             precision: .float32, kind: "(NaN)", position: "index 17 (row 0, column 17)"),
        Case(tensor: "h.1.attn.c_attn.weight", index: 4095, bits: nan32, dtype: "F32", residency: .resident,
             precision: .float32, kind: "(NaN)", position: "index 4095"),
        Case(tensor: "h.0.ln_1.weight", index: 5, bits: infinity32, dtype: "F32", residency: .mapped,
             precision: .float32, kind: "(+infinity)", position: "index 5"),
        Case(tensor: "h.0.ln_1.weight", index: 63, bits: infinity32, dtype: "F32", residency: .resident,
             precision: .float32, kind: "(+infinity)", position: "index 63"),
        Case(tensor: "wpe.weight", index: 7 * 64 + 3, bits: nan32, dtype: "F32", residency: .mapped,
             precision: .float32, kind: "(NaN)", position: "(row 7, column 3)"),
        Case(tensor: "ln_f.bias", index: 0, bits: (-Float.infinity).bitPattern, dtype: "F32", residency: .resident,
             precision: .float32, kind: "(-infinity)", position: "index 0"),
        Case(tensor: "h.0.mlp.c_fc.weight", index: 1000, bits: nan32, dtype: "F32", residency: .mapped,
             precision: .float16, kind: "(NaN)", position: "index 1000"),
        Case(tensor: "wte.weight", index: 50256 * 64 + 63, bits: infinity32, dtype: "F32", residency: .resident,
             precision: .float16, kind: "(+infinity)", position: "(row 50256, column 63)"),
        Case(tensor: "h.1.mlp.c_proj.weight", index: 9, bits: 0x7e00, dtype: "F16", residency: .mapped,
             precision: .float16, kind: "(NaN)", position: "index 9"),
        Case(tensor: "h.0.ln_2.bias", index: 31, bits: 0xfc00, dtype: "F16", residency: .mapped,
             precision: .float32, kind: "(-infinity)", position: "index 31"),
        Case(tensor: "wpe.weight", index: 127 * 64, bits: 0x7f80, dtype: "BF16", residency: .resident,
             precision: .float32, kind: "(+infinity)", position: "(row 127, column 0)"),
        Case(tensor: "h.1.attn.c_proj.weight", index: 2, bits: 0xffc1, dtype: "BF16", residency: .mapped,
             precision: .float16, kind: "(NaN)", position: "index 2"),
        // int8 checks wte a piece (16,384 rows of the fixture's) at a time: rows in the last and second pieces
        Case(tensor: "wte.weight", index: 50256 * 64 + 63, bits: infinity32, dtype: "F32", residency: .mapped,
             precision: .int8, kind: "(+infinity)", position: "(row 50256, column 63)"),
        Case(tensor: "wte.weight", index: 20000 * 64 + 5, bits: 0x7e00, dtype: "F16", residency: .resident,
             precision: .int8, kind: "(NaN)", position: "(row 20000, column 5)"),
        Case(tensor: "h.1.mlp.c_proj.weight", index: 255 * 64 + 1, bits: nan32, dtype: "F32", residency: .mapped,
             precision: .int8, kind: "(NaN)", position: "(row 255, column 1)"),
    ]

    /// The fixture in `dtype`, with element `index` of `tensor` set to `bits` (a value of that dtype).
    static func directory(dtype: String = "F32", tensor: String, index: Int, bits: UInt32) throws -> TemporaryDirectory {
        var writer = try CheckpointLayoutTests.fixture()
        if dtype != "F32" { writer.convertFloat32(to: dtype) }
        let i = try #require(writer.tensors.firstIndex { $0.name == "transformer.\(tensor)" })
        let size = dtype == "F32" ? 4 : 2
        let bytes = size == 4 ? withUnsafeBytes(of: bits.littleEndian) { Data($0) }
                              : withUnsafeBytes(of: UInt16(bits).littleEndian) { Data($0) }
        writer.tensors[i].data.replaceSubrange((index * size)..<((index + 1) * size), with: bytes)
        return try CheckpointLayoutTests.directory(writer)
    }

    @Test("a NaN or infinity in any tensor is refused at load, naming file, tensor and element", arguments: cases)
    func refused(_ c: Case) throws {
        let directory = try Self.directory(dtype: c.dtype, tensor: c.tensor, index: c.index, bits: c.bits)
        let error = try #require(Hostile.loadingError {
            _ = try GPT2Model(directory: directory.url, residency: c.residency, precision: c.precision)
        })
        #expect(error.kind == .nonFiniteValue)
        #expect(error.file == directory.file("model.safetensors").path)
        let message = error.description
        #expect(message.contains("tensor \"transformer.\(c.tensor)\" has a non-finite value \(c.kind) at index \(c.index)"), "\(message)")
        #expect(message.contains(c.position), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test("the same checkpoints with the value finite again load (the check is not refusing them for something else)")
    func finiteControl() throws {
        for c in Self.cases {
            let finite: UInt32 = c.dtype == "F32" ? Float(0.5).bitPattern : c.dtype == "F16" ? 0x3800 : 0x3f00
            let directory = try Self.directory(dtype: c.dtype, tensor: c.tensor, index: c.index, bits: finite)
            _ = try GPT2Model(directory: directory.url, residency: c.residency, precision: c.precision)
        }
    }

    @Test("a NaN in a sharded checkpoint names the shard it is in")
    func shardNamed() throws {
        var writer = try CheckpointLayoutTests.fixture()
        let i = try #require(writer.tensors.firstIndex { $0.name == "transformer.h.1.ln_2.bias" })
        writer.tensors[i].data.replaceSubrange(40..<44, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) })
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: CheckpointLayoutTests.source.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        var weightMap: [String: String] = [:]
        for (shard, range) in [(1, 0..<i), (2, i..<writer.tensors.count)] {
            let name = "model-0000\(shard)-of-00002.safetensors"
            let part = SafeTensorsWriter(tensors: Array(writer.tensors[range]))
            try part.write(to: dir.appendingPathComponent(name))
            for tensor in part.tensors { weightMap[tensor.name] = name }
        }
        try JSONSerialization.data(withJSONObject: ["weight_map": weightMap])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: dir.url) })
        #expect(error.kind == .nonFiniteValue)
        #expect(error.file.hasSuffix("model-00002-of-00002.safetensors"), "\(error)")
        #expect(error.detail.contains("transformer.h.1.ln_2.bias") && error.detail.contains("index 10"), "\(error)")
    }

    /// A model whose position 5 overflows: every element of `wpe` row 5 is 3e38, finite, but the
    /// LayerNorm's sum over the row is not.
    static func overflowingGenerator() throws -> (TextGenerator, TemporaryDirectory) {
        var writer = try CheckpointLayoutTests.fixture()
        let i = try #require(writer.tensors.firstIndex { $0.name == "transformer.wpe.weight" })
        let row = [Float](repeating: 3e38, count: 64).withUnsafeBytes { Data($0) }
        writer.tensors[i].data.replaceSubrange((5 * 256)..<(6 * 256), with: row)
        let directory = try CheckpointLayoutTests.directory(writer)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(name), to: directory.file(name))
        }
        return (try TextGenerator(directory: directory.url, maxBatchSize: 4), directory)
    }

    @Test("finite weights whose logits overflow fail that request with nonFiniteLogits; the others in the batch finish")
    func nonFiniteLogitsFailOneRequest() async throws {
        let (generator, directory) = try Self.overflowingGenerator()
        defer { _ = directory }
        let greedy = GenerationParameters(maxNewTokens: 4, temperature: 0, stopAtEndOfText: false)
        // positions 0...4: the first token comes from position 4's logits, the second from 5's
        let failing = Task { try await generator.generate(promptTokenIDs: [15496, 11, 995, 0, 464], parameters: greedy) }
        // positions 0...3 only: never meets row 5
        let healthy = Task { try await generator.generate(promptTokenIDs: [15496], parameters: greedy) }
        let result = try await healthy.value
        #expect(result.tokenIDs.count == 4 && result.summary.stopReason == .maxTokens)
        #expect(result.logprobs.allSatisfy { $0.isFinite && $0 <= 0 })
        let error = await #expect(throws: GenerationError.self) { try await failing.value }
        guard case let .some(.nonFiniteLogits(position, _)) = error else {
            Issue.record("expected nonFiniteLogits, got \(String(describing: error))")
            return
        }
        #expect(position == 5)
        #expect(error?.description.contains("not finite") == true)
        // the generator still serves requests afterwards
        let again = try await generator.generate(promptTokenIDs: [15496, 11], parameters: greedy)
        #expect(again.tokenIDs.count == 4)
    }

    @Test("a stream that meets non-finite logits yields the tokens before, then throws")
    func streamThrows() async throws {
        let (generator, directory) = try Self.overflowingGenerator()
        defer { _ = directory }
        let greedy = GenerationParameters(maxNewTokens: 10, temperature: 0, stopAtEndOfText: false)
        var tokens = 0
        do {
            for try await event in generator.stream(promptTokenIDs: [15496, 11, 995], parameters: greedy) {
                if case .token = event { tokens += 1 }
            }
            Issue.record("the stream ended without an error")
        } catch let error as GenerationError {
            #expect(error == .nonFiniteLogits(position: 5, tokenID: error.tokenID))
        }
        // positions 2, 3, 4 gave tokens; position 5's logits did not
        #expect(tokens == 3)
    }
}

private extension GenerationError {
    var tokenID: Int {
        if case let .nonFiniteLogits(_, id) = self { id } else { -1 }
    }
}
