import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Every kind of bad checkpoint gives a typed error whose message names the file and the problem.
@Suite struct LoaderErrorTests {
    typealias Writer = SafeTensorsWriter
    static let fixture = CheckpointLayoutTests.source

    /// Loads `directory` and returns the error it must throw.
    static func loadError(_ directory: TemporaryDirectory) throws -> ModelLoadingError {
        try loadError(directory.url)
    }

    static func loadError(_ directory: URL) throws -> ModelLoadingError {
        do {
            _ = try GPT2Model(directory: directory)
        } catch let error as ModelLoadingError {
            return error
        }
        Issue.record("loading \(directory.path) succeeded")
        throw CancellationError()
    }

    /// A model directory with the fixture's config and `data` as model.safetensors.
    static func directory(safetensors data: Data) throws -> TemporaryDirectory {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        try data.write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    /// A model directory with the fixture's weights and `text` as config.json.
    static func directory(config text: String) throws -> TemporaryDirectory {
        let dir = try TestPaths.temporaryDirectory()
        try text.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("model.safetensors"),
                                                   withDestinationURL: fixture.appendingPathComponent("model.safetensors"))
        return dir
    }

    static func fixtureConfig(replacing key: String, with value: Any?) throws -> String {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("config.json"))) as! [String: Any]
        object[key] = value
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static func expect(_ error: ModelLoadingError, _ kind: ModelLoadingError.Kind, file: String, mentions words: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        #expect(error.description.contains(file), "\(error)", sourceLocation: sourceLocation)
        for word in words {
            #expect(error.description.contains(word), "\(error) should mention \(word)", sourceLocation: sourceLocation)
        }
    }

    // MARK: directory and config.json

    @Test func missingDirectory() throws {
        let error = try Self.loadError(URL(fileURLWithPath: "/nonexistent/model-dir"))
        Self.expect(error, .missingFile, file: "/nonexistent/model-dir", mentions: ["does not exist"])
    }

    @Test func missingConfig() throws {
        let dir = try TestPaths.temporaryDirectory()
        Self.expect(try Self.loadError(dir), .missingFile, file: "config.json", mentions: ["cannot read"])
    }

    @Test func missingWeights() throws {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        Self.expect(try Self.loadError(dir), .missingFile, file: dir.path, mentions: ["model.safetensors"])
    }

    @Test func configIsNotJSON() throws {
        let error = try Self.loadError(Self.directory(config: "{ n_layer: 2,"))
        Self.expect(error, .invalidJSON, file: "config.json", mentions: ["JSON"])
    }

    @Test(arguments: ["n_layer", "n_head", "n_embd", "vocab_size"])
    func configLacksField(field: String) throws {
        let error = try Self.loadError(Self.directory(config: Self.fixtureConfig(replacing: field, with: nil)))
        Self.expect(error, .missingField, file: "config.json", mentions: [field])
    }

    @Test func configLacksContextLength() throws {
        let error = try Self.loadError(Self.directory(config: Self.fixtureConfig(replacing: "n_positions", with: nil)))
        Self.expect(error, .missingField, file: "config.json", mentions: ["n_positions", "n_ctx"])
    }

    @Test func oldConfigWithNCtxLoads() throws {
        var text = try Self.fixtureConfig(replacing: "n_positions", with: nil)
        text = text.replacingOccurrences(of: "\"n_layer\"", with: "\"n_ctx\":128,\"n_layer\"")
        let dir = try Self.directory(config: text)
        let model = try withExtendedLifetime(dir) { try GPT2Model(directory: dir.url) }
        #expect(model.config.contextLength == 128)
    }

    /// `value` is JSON text.
    static func fixtureConfig(replacing key: String, withJSON value: String) throws -> String {
        try fixtureConfig(replacing: key, with: JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed))
    }

    @Test(arguments: [("n_layer", "-1"), ("n_head", "0.5"), ("n_embd", "\"64\""),
                      ("layer_norm_epsilon", "0"), ("scale_attn_weights", "\"yes\""), ("n_head", "5")])
    func configHasBadValue(field: String, value: String) throws {
        let error = try Self.loadError(Self.directory(config: Self.fixtureConfig(replacing: field, withJSON: value)))
        Self.expect(error, .invalidValue, file: "config.json", mentions: [field])
    }

    @Test(arguments: [("model_type", "llama"), ("activation_function", "swish"), ("add_cross_attention", "true")])
    func configHasUnsupportedOption(field: String, value: String) throws {
        let json = value == "true" ? value : "\"\(value)\""
        let error = try Self.loadError(Self.directory(config: Self.fixtureConfig(replacing: field, withJSON: json)))
        Self.expect(error, .unsupported, file: "config.json", mentions: [field, value])
    }

    // MARK: safetensors

    @Test func headerLengthPastEndOfFile() throws {
        let data = try Writer.read(Self.fixture.appendingPathComponent("model.safetensors")).encoded(declaredHeaderLength: 1 << 40)
        let error = try Self.loadError(Self.directory(safetensors: data))
        Self.expect(error, .invalidSafetensors, file: "model.safetensors", mentions: ["header length", "past the end"])
    }

    @Test func fileShorterThanHeaderLength() throws {
        let error = try Self.loadError(Self.directory(safetensors: Data([1, 2, 3])))
        Self.expect(error, .invalidSafetensors, file: "model.safetensors", mentions: ["too short"])
    }

    @Test func emptyFile() throws {
        let error = try Self.loadError(Self.directory(safetensors: Data()))
        Self.expect(error, .invalidSafetensors, file: "model.safetensors", mentions: ["empty"])
    }

    @Test func headerIsNotJSON() throws {
        let writer = try Writer.read(Self.fixture.appendingPathComponent("model.safetensors"))
        let data = try writer.encoded(headerJSON: Data("{\"wte.weight\": [".utf8))
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["not valid JSON"])
    }

    @Test func headerIsNotAnObject() throws {
        let data = try Writer(tensors: []).encoded(headerJSON: Data("[1, 2]".utf8))
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["not a JSON object"])
    }

    /// The fixture with one tensor's header entry changed.
    static func withEntry(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> Data {
        let writer = try Writer.read(fixture.appendingPathComponent("model.safetensors"))
        var header = writer.header()
        var entry = header[name] as! [String: Any]
        change(&entry)
        header[name] = entry
        return try writer.encoded(headerJSON: JSONSerialization.data(withJSONObject: header))
    }

    @Test func offsetsOutsideTheData() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { $0["data_offsets"] = [100_000_000, 100_000_256] }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["transformer.ln_f.bias", "past its end"])
    }

    @Test func offsetsEndBeforeTheyBegin() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { $0["data_offsets"] = [256, 0] }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["transformer.ln_f.bias", "end before they begin"])
    }

    @Test func overlappingTensors() throws {
        let writer = try Writer.read(Self.fixture.appendingPathComponent("model.safetensors"))
        var header = writer.header()
        // Point ln_f.weight at the first bytes of ln_f.bias's neighbour: same size, overlapping range.
        let bias = (header["transformer.ln_f.bias"] as! [String: Any])["data_offsets"] as! [Int]
        var weight = header["transformer.ln_f.weight"] as! [String: Any]
        weight["data_offsets"] = [bias[0] + 4, bias[1] + 4]
        header["transformer.ln_f.weight"] = weight
        let data = try writer.encoded(headerJSON: JSONSerialization.data(withJSONObject: header))
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["overlap"])
    }

    @Test func tensorShorterThanItsShape() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { entry in
            let offsets = entry["data_offsets"] as! [Int]
            entry["data_offsets"] = [offsets[0], offsets[1] - 4]
        }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["transformer.ln_f.bias", "needs 256 bytes", "252"])
    }

    @Test func shapeWhoseSizeOverflows() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { $0["shape"] = [1 << 40, 1 << 40, 1 << 40] }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["overflows"])
    }

    @Test func unknownDType() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { $0["dtype"] = "Q4_K" }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .unknownDType,
                    file: "model.safetensors", mentions: ["transformer.ln_f.bias", "Q4_K"])
    }

    @Test func knownDTypeTheEngineCannotUse() throws {
        let data = try Self.withEntry("transformer.ln_f.bias") { $0["dtype"] = "I32" }
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .unknownDType,
                    file: "model.safetensors", mentions: ["transformer.ln_f.bias", "I32"])
    }

    @Test func missingTensor() throws {
        var writer = try Writer.read(Self.fixture.appendingPathComponent("model.safetensors"))
        writer.tensors.removeAll { $0.name == "transformer.h.1.mlp.c_fc.weight" }
        Self.expect(try Self.loadError(Self.directory(safetensors: writer.encoded())), .missingTensor,
                    file: "model.safetensors", mentions: ["h.1.mlp.c_fc.weight"])
    }

    @Test func shapeDisagreesWithConfig() throws {
        let error = try Self.loadError(Self.directory(config: Self.fixtureConfig(replacing: "n_embd", with: 128)))
        Self.expect(error, .shapeMismatch, file: "model.safetensors", mentions: ["shape", "config.json"])
    }

    @Test func truncatedFile() throws {
        let whole = try Data(contentsOf: Self.fixture.appendingPathComponent("model.safetensors"))
        let data = whole.prefix(whole.count / 2)
        Self.expect(try Self.loadError(Self.directory(safetensors: data)), .invalidSafetensors,
                    file: "model.safetensors", mentions: ["truncated"])
    }

    @Test func shardNameOutsideTheDirectory() throws {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        // The file exists, one level up: it must still be refused.
        let outside = dir.url.deletingLastPathComponent().appendingPathComponent("\(dir.lastPathComponent).safetensors")
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("model.safetensors"), to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        for name in ["../\(dir.lastPathComponent).safetensors", "/etc/passwd"] {
            let index = ["weight_map": ["wte.weight": name]]
            try JSONSerialization.data(withJSONObject: index).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
            Self.expect(try Self.loadError(dir), .invalidValue, file: "model.safetensors.index.json", mentions: [name])
        }
    }

    @Test func missingShard() throws {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        let index = ["weight_map": ["wte.weight": "model-00001-of-00002.safetensors"]]
        try JSONSerialization.data(withJSONObject: index).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        Self.expect(try Self.loadError(dir), .missingFile, file: "model-00001-of-00002.safetensors", mentions: ["cannot open"])
    }
}
