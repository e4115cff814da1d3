import Foundation
import Testing
import TestSupport
@testable import GPT2
@testable import GPT2Kernels

/// The layouts checkpoints come in: key prefixes, attention buffers, shards, explicit heads, dtypes.
/// Each rewrites the float32 fixture and checks the logits against the fixture's own.
@Suite struct CheckpointLayoutTests {
    static let source = TestPaths.reference.appendingPathComponent("tiny-gpt2-f32")
    static let prompt = [15496, 11, 995, 0, 464, 2068]

    /// A model directory with the fixture's config.json and the given tensors.
    static func directory(_ writer: SafeTensorsWriter, file: String = "model.safetensors") throws -> TemporaryDirectory {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        try writer.write(to: dir.appendingPathComponent(file))
        return dir
    }

    static func logits(_ directory: TemporaryDirectory) throws -> [Float] {
        try logits(directory.url)
    }

    static func logits(_ directory: URL) throws -> [Float] {
        let model = try GPT2Model(directory: directory)
        return try model.forward(prompt, cache: try model.makeCache(), logits: .all).values
    }

    static func fixture() throws -> SafeTensorsWriter {
        try SafeTensorsWriter.read(source.appendingPathComponent("model.safetensors"))
    }

    @Test func fixtureUsesTheTransformerPrefixAndTiedHead() throws {
        let names = try Self.fixture().tensors.map(\.name)
        #expect(names.allSatisfy { $0.hasPrefix("transformer.") })
        #expect(!names.contains("lm_head.weight"))
    }

    @Test("keys without the transformer. prefix, with attn.bias / attn.masked_bias buffers")
    func originalUploadNaming() throws {
        var writer = try Self.fixture()
        writer.rename { $0.replacingOccurrences(of: "transformer.", with: "") }
        for layer in 0..<2 {
            writer.tensors.append(.float32("h.\(layer).attn.bias", [1, 1, 128, 128], [Float](repeating: 1, count: 128 * 128)))
            writer.tensors.append(.float32("h.\(layer).attn.masked_bias", [], [-1e4]))
        }
        #expect(try Self.logits(Self.directory(writer)) == Self.logits(Self.source))
    }

    @Test("a sharded checkpoint with model.safetensors.index.json")
    func sharded() throws {
        let all = try Self.fixture()
        let dir = try Self.directory(SafeTensorsWriter(tensors: []), file: "unused.safetensors")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("unused.safetensors"))
        var weightMap: [String: String] = [:]
        for (shard, range) in [(1, 0..<7), (2, 7..<all.tensors.count)] {
            let name = "model-0000\(shard)-of-00002.safetensors"
            let part = SafeTensorsWriter(tensors: Array(all.tensors[range]))
            try part.write(to: dir.appendingPathComponent(name))
            for tensor in part.tensors { weightMap[tensor.name] = name }
        }
        let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect(try Self.logits(dir) == Self.logits(Self.source))
    }

    @Test("an explicit lm_head.weight is used instead of wte")
    func explicitHead() throws {
        var writer = try Self.fixture()
        var head = writer.tensors.first { $0.name == "transformer.wte.weight" }!
        head.name = "lm_head.weight"
        // Doubling every weight doubles every logit exactly, which a tied head would not do.
        let doubled = head.data.withUnsafeBytes { $0.bindMemory(to: Float.self).map { $0 * 2 } }
        head.data = doubled.withUnsafeBytes { Data($0) }
        writer.tensors.append(head)
        let expected = try Self.logits(Self.source).map { $0 * 2 }
        #expect(try Self.logits(Self.directory(writer)) == expected)
    }

    @Test("bfloat16 and float16 weights are converted exactly", arguments: ["BF16", "F16"])
    func halfPrecision(dtype: String) throws {
        var half = try Self.fixture()
        half.convertFloat32(to: dtype)
        // The same values, rounded to the half format but stored as float32: must give the same logits.
        var rounded = try Self.fixture()
        for i in rounded.tensors.indices {
            let floats = rounded.tensors[i].data.withUnsafeBytes { $0.bindMemory(to: Float.self).map {
                dtype == "BF16" ? Float(bitPattern: $0.bitPattern & 0xffff_0000) : Float(Float16($0))
            } }
            rounded.tensors[i].data = floats.withUnsafeBytes { Data($0) }
        }
        let halfDirectory = try Self.directory(half)
        let halfModel = try withExtendedLifetime(halfDirectory) { try GPT2Model(directory: halfDirectory.url) }
        #expect(halfModel.convertedWeightBytes > 0)
        #expect(try Self.logits(halfDirectory) == Self.logits(Self.directory(rounded)))
    }

    @Test("float32 weights are used in place from the map, not copied")
    func float32InPlace() throws {
        let model = try GPT2Model(directory: Self.source)
        #expect(model.convertedWeightBytes == 0)
    }

    /// Not the same bits: resident float32 matrices are kept transposed, so the sums run in
    /// another order (the reference parity tests hold for both residencies).
    @Test("resident weights are copies that outlive the file and give the same logits to rounding")
    func residentWeights() throws {
        let mapped = try Self.logits(Self.source)
        // a copy of the checkpoint that is deleted after loading: the model must not need the file
        let copy = try Self.directory(Self.fixture())
        let model = try GPT2Model(directory: copy.url, residency: .resident)
        try FileManager.default.removeItem(at: copy.url.appendingPathComponent("model.safetensors"))
        let weightBytes = 4 * (model.parameterCount)
        #expect(model.convertedWeightBytes >= weightBytes)
        let resident = try model.forward(Self.prompt, cache: try model.makeCache(), logits: .all).values
        #expect(resident.count == mapped.count)
        let worst = zip(resident, mapped).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5 * mapped.map(abs).max()!, "off by \(worst)")
    }

    @Test func halfConversionOfSpecialValues() {
        #expect(floatFromHalf(0x0000) == 0)
        #expect(floatFromHalf(0x8000).sign == .minus)
        #expect(floatFromHalf(0x3c00) == 1)
        #expect(floatFromHalf(0xc000) == -2)
        #expect(floatFromHalf(0x7bff) == 65504)
        #expect(floatFromHalf(0x0001) == 0x1p-24)       // smallest subnormal
        #expect(floatFromHalf(0x03ff) == 1023 * 0x1p-24)  // largest subnormal
        #expect(floatFromHalf(0x7c00) == .infinity)
        #expect(floatFromHalf(0xfc00) == -.infinity)
        #expect(floatFromHalf(0x7e00).isNaN)
        for bits in stride(from: 0, through: 0xffff, by: 7) {
            let expected = Float(Float16(bitPattern: UInt16(bits)))
            let actual = floatFromHalf(UInt16(bits))
            #expect(actual.bitPattern == expected.bitPattern || (actual.isNaN && expected.isNaN))
        }
    }
}
