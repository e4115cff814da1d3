import Foundation
import Testing
import TestSupport
@testable import GPT2

/// config.json from an untrusted checkpoint.
@Suite struct HostileConfigTests {
    static let url = URL(fileURLWithPath: "/hostile/config.json")

    static func config(_ text: String) throws -> GPT2Config {
        try GPT2Config(json: Data(text.utf8), file: url)
    }

    static func config(epsilon: String) -> String {
        #"{"n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 300, "n_positions": 16, "layer_norm_epsilon": \#(epsilon)}"#
    }

    /// Found by the config fuzz target: 1e-85 is in (0, 1) as a Double, but the engine uses the
    /// epsilon as a Float, where it is 0, and LayerNorm would divide by zero on a constant row.
    @Test func fuzzedEpsilonThatIsZeroAsAFloat() throws {
        let error = Hostile.loadingError { _ = try GPT2Config(contentsOf: Hostile.fixture("config-epsilon-underflows-float.json")) }
        #expect(error?.kind == .invalidValue)
        #expect(error?.detail.contains("layer_norm_epsilon") == true, "\(String(describing: error))")
        #expect(error?.file.hasSuffix("config-epsilon-underflows-float.json") == true)
    }

    @Test(arguments: ["1e-46", "1e-300", "4.9e-324", "0", "-1e-5", "1", "1e300"])
    func epsilonOutOfRange(_ epsilon: String) {
        let error = Hostile.loadingError { _ = try Self.config(Self.config(epsilon: epsilon)) }
        #expect(error?.kind == .invalidValue || error?.kind == .invalidJSON, "\(String(describing: error))")
    }

    @Test func smallestPositiveFloatEpsilonIsKept() throws {
        #expect(try Self.config(Self.config(epsilon: "1e-44")).layerNormEpsilon > 0)
        #expect(try Self.config(Self.config(epsilon: "1e-05")).layerNormEpsilon == 1e-5)
    }

    /// Sizes that would overflow or exhaust memory are refused before anything is sized by them.
    @Test(arguments: [("n_layer", "9223372036854775807"), ("n_layer", "1e19"), ("n_embd", "-9223372036854775808"),
                      ("vocab_size", "16777217"), ("n_positions", "1048577"), ("n_inner", "1e300"),
                      ("n_head", "1.5"), ("n_embd", "\"64\""), ("n_layer", "[2]"), ("n_layer", "{}"),
                      ("n_layer", "true"), ("layer_norm_epsilon", "true")])
    func sizesOutOfRange(_ key: String, _ value: String) {
        var fields = ["n_layer": "2", "n_head": "4", "n_embd": "64", "vocab_size": "300", "n_positions": "16"]
        fields[key] = value
        let text = "{" + fields.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        let error = Hostile.loadingError { _ = try Self.config(text) }
        #expect(error?.kind == .invalidValue, "\(key) = \(value): \(String(describing: error))")
    }

    @Test(arguments: ["", "null", "[]", "\"gpt2\"", "{"])
    func notAConfigObject(_ text: String) {
        let error = Hostile.loadingError { _ = try Self.config(text) }
        #expect(error?.kind == .invalidJSON)
    }

    @Test func deeplyNestedConfigIsAnErrorNotAStackOverflow() {
        for text in [String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 50_000)] {
            #expect(Hostile.loadingError { _ = try Self.config(text) }?.kind == .invalidJSON)
        }
    }

    /// A FIFO named like a model file is refused without being read: reading it would block
    /// forever (this test would hang).
    @Test("a FIFO in place of config.json, the weights or the shard index is refused",
          arguments: ["config.json", "model.safetensors", "model.safetensors.index.json"])
    func fifoInsteadOfAModelFile(name: String) throws {
        let dir = try TestPaths.temporaryDirectory()
        if name != "config.json" {
            try FileManager.default.copyItem(at: CheckpointLayoutTests.source.appendingPathComponent("config.json"),
                                             to: dir.appendingPathComponent("config.json"))
        }
        #expect(mkfifo(dir.appendingPathComponent(name).path, 0o600) == 0)
        let error = Hostile.loadingError { _ = try GPT2Model(directory: dir.url) }
        #expect(error?.file.hasSuffix(name) == true, "\(String(describing: error))")
        #expect(error?.detail.contains("not a regular file") == true, "\(String(describing: error))")
    }

    @Test("a FIFO in place of vocab.json or merges.txt is refused", arguments: ["vocab.json", "merges.txt"])
    func fifoInsteadOfATokenizerFile(name: String) throws {
        let dir = try TestPaths.temporaryDirectory()
        for file in ["vocab.json", "merges.txt"] where file != name {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        #expect(mkfifo(dir.appendingPathComponent(name).path, 0o600) == 0)
        let error = Hostile.tokenizerError { _ = try GPT2Tokenizer(directory: dir.url) }
        #expect(error?.description.contains(name) == true && error?.description.contains("not a regular file") == true,
                "\(String(describing: error))")
    }
}
