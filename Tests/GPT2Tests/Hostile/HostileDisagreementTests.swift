import Foundation
import Testing
import TestSupport
@testable import GPT2

/// A checkpoint and a config.json that disagree: parameters the config does not use are refused,
/// naming both files, rather than ignored (a smaller n_layer would otherwise run a truncated model).
@Suite struct HostileDisagreementTests {
    /// The 2-layer fixture's tensors, with config.json's fields replaced by `fields`.
    static func directory(_ writer: SafeTensorsWriter, config fields: [String: Any] = [:]) throws -> TemporaryDirectory {
        let directory = try CheckpointLayoutTests.directory(writer)
        let url = directory.file("config.json")
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config.merge(fields) { _, new in new }
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return directory
    }

    @Test("n_layer smaller than the checkpoint's blocks is refused, naming the block and both files",
          arguments: [WeightResidency.mapped, .resident])
    func fewerLayers(residency: WeightResidency) throws {
        let directory = try Self.directory(CheckpointLayoutTests.fixture(), config: ["n_layer": 1])
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url, residency: residency) })
        #expect(error.kind == .inconsistentFiles)
        #expect(error.file == directory.file("model.safetensors").path)
        #expect(error.detail.contains("holds block h.1 (tensor \"transformer.h.1."), "\(error)")
        #expect(error.detail.contains("\(directory.file("config.json").path) says n_layer 1"), "\(error)")
    }

    @Test("a tensor the architecture has no place for is refused, naming it", arguments: [
        "transformer.h.0.attn.q_proj.weight", "transformer.wte.bias", "score.weight", "transformer.h.0.mlp.gate.weight",
    ])
    func unknownTensor(name: String) throws {
        var writer = try CheckpointLayoutTests.fixture()
        writer.tensors.append(.float32(name, [2], [1, 2]))
        let directory = try Self.directory(writer)
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
        #expect(error.kind == .inconsistentFiles)
        #expect(error.detail.contains("tensor \"\(name)\" is not a parameter of the GPT-2 model"), "\(error)")
        #expect(error.detail.contains("config.json"), "\(error)")
    }

    @Test("a block beyond n_layer in a sharded checkpoint names the shard it is in")
    func extraBlockInShard() throws {
        var writer = try CheckpointLayoutTests.fixture()
        let extra = writer.tensors.filter { $0.name.hasPrefix("transformer.h.1.") }.map {
            SafeTensorsWriter.Tensor(name: $0.name.replacingOccurrences(of: "h.1.", with: "h.2."), dtype: $0.dtype, shape: $0.shape, data: $0.data)
        }
        writer.tensors += extra
        let directory = try Self.directory(writer)
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
        #expect(error.kind == .inconsistentFiles)
        #expect(error.detail.contains("holds block h.2") && error.detail.contains("n_layer 2"), "\(error)")
    }

    @Test("causal-mask buffers, an explicit lm_head and the bundled demo still load")
    func buffersStillLoad() throws {
        var writer = try CheckpointLayoutTests.fixture()
        writer.tensors.append(.float32("transformer.h.1.attn.masked_bias", [], [-1e4]))
        writer.tensors.append(.float32("h.0.attn.bias", [1, 1, 2, 2], [1, 0, 1, 1]))
        let wte = try #require(writer.tensors.first { $0.name == "transformer.wte.weight" })
        writer.tensors.append(SafeTensorsWriter.Tensor(name: "lm_head.weight", dtype: wte.dtype, shape: wte.shape, data: wte.data))
        let directory = try Self.directory(writer)  // kept alive: it is deleted with its last reference
        _ = try GPT2Model(directory: directory.url)
        _ = try GPT2Model(directory: TestPaths.salesDemo)
    }

    @Test("a tokenizer with more tokens than vocab_size is refused, naming the tokenizer file and config.json")
    func tokenizerLargerThanVocabulary() throws {
        // a consistent 50000-token model: wte cut to 50000 rows, vocab_size 50000
        var writer = try CheckpointLayoutTests.fixture()
        let i = try #require(writer.tensors.firstIndex { $0.name == "transformer.wte.weight" })
        writer.tensors[i].shape = [50000, 64]
        writer.tensors[i].data = writer.tensors[i].data.prefix(50000 * 64 * 4)
        let directory = try Self.directory(writer, config: ["vocab_size": 50000])
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(name), to: directory.file(name))
        }
        let model = try GPT2Model(directory: directory.url)  // the model alone is consistent
        let tokenizer = try GPT2Tokenizer(directory: directory.url)
        let error = try #require(Hostile.loadingError { try model.check(tokenizer: tokenizer) })
        #expect(error.kind == .inconsistentFiles)
        #expect(error.description == "\(directory.file("vocab.json").path): has 50257 tokens but \(directory.file("config.json").path) says vocab_size 50000; the two files disagree")
        #expect(Hostile.loadingError { _ = try TextGenerator(directory: directory.url) } == error)
        // the demo's own files agree
        let demo = try GPT2Model(directory: TestPaths.salesDemo)
        try demo.check(tokenizer: GPT2Tokenizer(directory: TestPaths.salesDemo))
    }
}
