import Foundation
import Testing
import TestSupport
@testable import GPT2

/// `model.safetensors.index.json` from an untrusted checkpoint: the shard names it gives must be
/// plain file names inside the model directory, whatever files exist elsewhere.
@Suite struct HostileShardIndexTests {
    static let directory = URL(fileURLWithPath: "/hostile/model", isDirectory: true)
    static let indexURL = directory.appendingPathComponent("model.safetensors.index.json")

    static func shards(_ names: [String]) throws -> [URL] {
        var weightMap: [String: String] = [:]
        for (i, name) in names.enumerated() { weightMap["t\(i)"] = name }
        let data = try JSONSerialization.data(withJSONObject: ["weight_map": weightMap])
        return try TensorIndex.shards(indexJSON: data, indexURL: indexURL, directory: directory)
    }

    /// Names that leave the directory or are not file names. The ones with U+0301 (a combining
    /// mark) used to pass: `String.contains("/")` compares Characters, and "/" followed by a
    /// combining mark is one Character, so "../\u{301}x" had no "/" Character yet its path
    /// climbed out of the directory.
    @Test(arguments: ["../x.safetensors", "/etc/passwd", "", ".", "..", "a/b", "a\\b", "x\u{0}y", "sub/",
                      "../\u{301}x.safetensors", "/\u{301}etc/passwd", "a/\u{301}b", "x\u{0}\u{301}", "\\\u{301}x"])
    func nameOutsideTheDirectoryIsRefused(_ name: String) {
        let error = Hostile.loadingError { _ = try Self.shards(["model-00001-of-00002.safetensors", name]) }
        #expect(error?.kind == .invalidValue, "\(name.debugDescription): \(String(describing: error))")
        #expect(error?.file == Self.indexURL.path)
    }

    /// Odd but plain file names stay inside the directory, spelled exactly as given.
    @Test(arguments: ["...", " .safetensors", "%2e%2e%2fx", "..%2Fx", "中文.safetensors", "~", "..\u{301}", "\u{301}sors", "-", "a:b"])
    func oddPlainNamesStayInside(_ name: String) throws {
        let urls = try Self.shards([name])
        #expect(urls.count == 1)
        #expect(urls[0].lastPathComponent.utf8.elementsEqual(name.utf8))
        #expect(urls[0].deletingLastPathComponent().path == Self.directory.path)
        #expect(urls[0].path.utf8.elementsEqual((Self.directory.path + "/" + name).utf8))
    }

    @Test(arguments: ["[]", "{}", #"{"weight_map": []}"#, #"{"weight_map": {}}"#, #"{"weight_map": {"a": 1}}"#,
                      #"{"weight_map": {"a": null}}"#, #"{"weight_map": {"a": ["x"]}}"#, "", String(repeating: "[", count: 1_000)])
    func malformedIndex(_ text: String) {
        let error = Hostile.loadingError {
            _ = try TensorIndex.shards(indexJSON: Data(text.utf8), indexURL: Self.indexURL, directory: Self.directory)
        }
        #expect(error?.kind == .invalidJSON, "\(text.prefix(40)): \(String(describing: error))")
    }

    /// End to end: the escaping file exists next to the model directory and is a valid
    /// checkpoint, and it is still refused.
    @Test func combiningMarkEscapeIsRefusedWhenTheFileExists() throws {
        let source = CheckpointLayoutTests.source
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let escaped = "\u{301}\(dir.lastPathComponent).safetensors"
        let outside = dir.url.deletingLastPathComponent().appendingPathComponent(escaped)
        try FileManager.default.createSymbolicLink(at: outside, withDestinationURL: source.appendingPathComponent("model.safetensors"))
        defer { try? FileManager.default.removeItem(at: outside) }
        let name = "../" + escaped
        try JSONSerialization.data(withJSONObject: ["weight_map": ["wte.weight": name]])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let error = Hostile.loadingError { _ = try GPT2Model(directory: dir.url) }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file.hasSuffix("model.safetensors.index.json") == true)
    }

    /// Symbolic links inside the directory are followed: the Hugging Face cache lays snapshots
    /// out as links into its blob store. Only the names in the index are untrusted input.
    @Test func symlinkedShardInsideTheDirectoryLoads() throws {
        let source = CheckpointLayoutTests.source
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let name = "model-00001-of-00001.safetensors"
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                   withDestinationURL: source.appendingPathComponent("model.safetensors"))
        try JSONSerialization.data(withJSONObject: ["weight_map": ["wte.weight": name]])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let model = try GPT2Model(directory: dir.url)
        #expect(model.config.layerCount == 2)
    }
}
