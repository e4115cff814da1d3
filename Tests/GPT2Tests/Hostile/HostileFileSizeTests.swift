import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Model files far larger than real ones, or headers of degenerate size: each is refused before
/// it is read whole or parsed into structures, with a one-line message giving the size and the
/// bound.
@Suite struct HostileFileSizeTests {
    enum Fill { case spaces, hole }

    /// The 2-layer fixture's directory (its config.json and model.safetensors copied) with `name`
    /// replaced by `size` bytes: `prefix`, then spaces or a hole (zeros that take no disk space).
    /// A shard index replaces model.safetensors.
    static func directory(replacing name: String, size: Int, prefix: String, fill: Fill) throws -> TemporaryDirectory {
        let directory = try TestPaths.temporaryDirectory()
        for file in ["config.json", "model.safetensors"] where file != name && !(name.hasSuffix(".index.json") && file == "model.safetensors") {
            try FileManager.default.copyItem(at: CheckpointLayoutTests.source.appendingPathComponent(file), to: directory.file(file))
        }
        var bytes = Array(prefix.utf8)
        if fill == .spaces { bytes += [UInt8](repeating: UInt8(ascii: " "), count: size - bytes.count) }
        let url = try directory.write(name, bytes: bytes)
        if fill == .hole {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.truncate(atOffset: UInt64(size))
        }
        return directory
    }

    static let config = (try? String(contentsOf: CheckpointLayoutTests.source.appendingPathComponent("config.json"), encoding: .utf8)) ?? ""

    /// config.json followed by spaces, generation_config.json and a shard index too: one byte over
    /// the limit, or 2 GB (a hole), is refused by its size, unread.
    @Test("a JSON file of the model directory over its limit is refused, naming the file, its size and the limit",
          arguments: [("config.json", 4), ("generation_config.json", 1), ("model.safetensors.index.json", 16)],
          [Fill.spaces, .hole])
    func jsonFileOverItsLimit(file: (name: String, megabytes: Int), fill: Fill) throws {
        let (name, megabytes) = file
        let size = fill == .spaces ? megabytes << 20 + 1 : 2 << 30
        let prefix = name == "config.json" ? Self.config : #"{"eos_token_id": 1, "weight_map": {"wte.weight": "model.safetensors"}}"#
        let directory = try Self.directory(replacing: name, size: size, prefix: prefix, fill: fill)
        let start = ContinuousClock.now
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
        #expect(error.kind == .fileTooLarge)
        #expect(error.file == directory.file(name).path)
        #expect(error.detail == "\(size) bytes, over the \(megabytes) MB limit for this file", "\(error)")
        #expect(ContinuousClock.now - start < .seconds(5), "the file was read, not refused by its size")
    }

    @Test("a config.json padded with spaces to exactly its limit loads")
    func configAtItsLimitLoads() throws {
        let directory = try Self.directory(replacing: "config.json", size: 4 << 20, prefix: Self.config, fill: .spaces)
        #expect(try GPT2Model(directory: directory.url).config.layerCount == 2)
    }

    // MARK: safetensors headers

    static let url = URL(fileURLWithPath: "/hostile/model.safetensors")

    /// A safetensors image of zero-size tensors `names` (after `before`, raw JSON members), and no data.
    static func image(names: some Sequence<String>, before: String = "", shape: String = "[0]") -> [UInt8] {
        var header = "{" + before
        var first = before.isEmpty
        for name in names {
            header += (first ? "" : ",") + #""\#(name)":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,0]}"#
            first = false
        }
        header += "}"
        return HostileSafeTensorsTests.image(header)
    }

    static func parse(_ bytes: [UInt8], layerCount: Int) throws -> [String: SafeTensorsFile.Entry] {
        try bytes.withUnsafeBytes { try SafeTensorsFile.parseHeader($0, url: url, layerCount: layerCount) }
    }

    static let millionEntries = image(names: (0..<1_000_000).lazy.map { "transformer.\($0)" })

    /// A header of a million zero-size entries: refused before JSONSerialization builds objects
    /// for each of their values (parsed, it took 44 s and 4 GB; the bound below is that, loosely:
    /// README's error table runs the same file under a memory limit).
    @Test("a header of a million zero-size entries is refused at once, for any n_layer", arguments: [1, 6, 1024])
    func millionZeroSizeEntries(layerCount: Int) throws {
        let bytes = Self.millionEntries  // made before the clock starts
        let start = ContinuousClock.now
        let error = Hostile.loadingError { _ = try Self.parse(bytes, layerCount: layerCount) }
        #expect(ContinuousClock.now - start < .seconds(10))
        let tensors = 14 * layerCount + 5
        #expect(error?.kind == .invalidSafetensors)
        #expect(error?.detail == "header has more than \(2 * tensors + 1) entries, over twice the \(tensors) tensors a GPT-2 model with n_layer \(layerCount) can use",
                "\(String(describing: error))")
    }

    /// n_layer 1: 19 tensors, so 39 entries (with `__metadata__`) are parsed and 40 are not.
    @Test("entries up to twice the model's tensors are parsed; one more is refused unparsed", arguments: [1, 2])
    func entriesAtTheBound(layerCount: Int) throws {
        let bound = 2 * (14 * layerCount + 5) + 1
        let metadata = #""__metadata__":{"format":"pt"}"#
        #expect(try Self.parse(Self.image(names: (1..<bound).map { "t\($0)" }, before: metadata), layerCount: layerCount).count == bound - 1)
        let error = Hostile.loadingError { _ = try Self.parse(Self.image(names: (0..<bound).map { "t\($0)" }, before: metadata), layerCount: layerCount) }
        #expect(error?.detail.hasPrefix("header has more than \(bound) entries") == true, "\(String(describing: error))")
    }

    /// n_layer 1 allows 39 × 64 = 2496 JSON values: a shape of 2,000 dimensions is parsed, one of
    /// 3,000 or a million is not.
    @Test("a shape of very many dimensions is refused unparsed", arguments: [3_000, 1_000_000])
    func shapeOfVeryManyDimensions(dimensions: Int) throws {
        let fits = "[" + Array(repeating: "0", count: 2_000).joined(separator: ",") + "]"
        #expect(try Self.parse(Self.image(names: ["t"], shape: fits), layerCount: 1)["t"]?.shape.count == 2_000)
        let shape = "[" + Array(repeating: "0", count: dimensions).joined(separator: ",") + "]"
        let error = Hostile.loadingError { _ = try Self.parse(Self.image(names: ["t"], shape: shape), layerCount: 1) }
        #expect(error?.detail.hasPrefix("header has more than 2496 JSON values") == true, "\(String(describing: error))")
    }

    @Test("an entry name over 1024 bytes is refused unparsed", arguments: [1025, 10_000_000])
    func longEntryName(length: Int) throws {
        #expect(try Self.parse(Self.image(names: [String(repeating: "n", count: 1024)]), layerCount: 1).count == 1)
        let error = Hostile.loadingError { _ = try Self.parse(Self.image(names: [String(repeating: "n", count: length)]), layerCount: 1) }
        #expect(error?.detail == "header has an entry name of \(length) bytes; a tensor name has at most 1024", "\(String(describing: error))")
    }

    /// Commas, brackets and escaped quotes inside strings are text, not structure: a metadata
    /// value full of them, and names with them, count as what they are.
    @Test("punctuation inside strings is not counted as entries or values")
    func punctuationInsideStrings() throws {
        let noise = String(repeating: #",{[\"\\"#, count: 10_000)
        let before = #""__metadata__":{"note":"\#(noise)"}"#
        let names = [#"a,\"b\":{"#, #"c\\"#, "d],["]
        let entries = try Self.parse(Self.image(names: names, before: before), layerCount: 1)
        #expect(Set(entries.keys) == [#"a,"b":{"#, #"c\"#, "d],["])
    }

    /// Through the loader: the bound comes from config.json's n_layer (2 for the fixture: 67 entries).
    @Test("a checkpoint of thousands of zero-size entries is refused by GPT2Model, naming n_layer")
    func manyEntriesThroughTheLoader() throws {
        let directory = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: CheckpointLayoutTests.source.appendingPathComponent("config.json"), to: directory.file("config.json"))
        try directory.write("model.safetensors", bytes: Self.image(names: (0..<5_000).map { "h.0.x\($0)" }))
        let error = try #require(Hostile.loadingError { _ = try GPT2Model(directory: directory.url) })
        #expect(error.file == directory.file("model.safetensors").path)
        #expect(error.detail == "header has more than 67 entries, over twice the 33 tensors a GPT-2 model with n_layer 2 can use", "\(error)")
    }
}
