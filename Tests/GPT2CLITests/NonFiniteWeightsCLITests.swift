import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Weights that are NaN or infinite, or finite but overflowing, as the `generate` user meets them:
/// exit 65 (bad data) and one line on stderr, never a stream of token 0.
@Suite struct NonFiniteWeightsCLITests {
    /// The float32 test fixture with the demo's tokenizer, element `index` of `tensor` (its name
    /// in the file) replaced by `values`, one float32 after another.
    static func model(_ tensor: String, index: Int, values: [Float]) throws -> TemporaryDirectory {
        let source = TestPaths.reference.appendingPathComponent("tiny-gpt2-f32")
        let directory = try TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: directory.file("config.json"))
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: directory.file(name), withDestinationURL: TestPaths.salesDemo.appendingPathComponent(name))
        }
        let weights = source.appendingPathComponent("model.safetensors")
        let entry = try #require(try SafeTensorsFile(url: weights).entries[tensor])
        #expect(entry.dtype == .F32)
        var data = try Data(contentsOf: weights)
        let start = entry.range.lowerBound + 4 * index
        data.replaceSubrange(start..<(start + 4 * values.count), with: values.withUnsafeBytes { Data($0) })
        try data.write(to: directory.file("model.safetensors"))
        return directory
    }

    @Test("a NaN weight exits 65 with one line naming the file, the tensor and the element, on every load path",
          arguments: [[String](), ["--weights", "resident"], ["--precision", "f16"], ["--precision", "f16", "--weights", "resident"]])
    func nonFiniteWeight(options: [String]) throws {
        let directory = try Self.model("transformer.h.1.ln_1.weight", index: 17, values: [.nan])
        let output = try GenerateCLITests.generate(["--model", directory.path] + options + ["--max-tokens", "3", "hi"])
        #expect(output.status == 65, "\(output.stderr)")
        #expect(output.stderr == "generate: error: \(directory.file("model.safetensors").path): tensor \"transformer.h.1.ln_1.weight\" has a non-finite value (NaN) at index 17\n")
        #expect(output.stdout.isEmpty)
    }

    @Test("an infinite position embedding exits 65 naming its row")
    func infiniteEmbedding() throws {
        let directory = try Self.model("transformer.wpe.weight", index: 3 * 64 + 1, values: [-.infinity])
        let output = try GenerateCLITests.generate(["--model", directory.path, "hi"])
        #expect(output.status == 65, "\(output.stderr)")
        #expect(output.stderr.contains("tensor \"transformer.wpe.weight\" has a non-finite value (-infinity) at index 193 (row 3, column 1)"), "\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1)
    }

    @Test("finite weights whose logits overflow: the tokens before, then exit 65 and one line, not token 0")
    func overflowingLogits() throws {
        // every element of wpe row 3 is 3e38: finite, but the LayerNorm's sum over the row overflows
        let directory = try Self.model("transformer.wpe.weight", index: 3 * 64, values: [Float](repeating: 3e38, count: 64))
        let output = try GenerateCLITests.generate(["--model", directory.path, "--prompt-ids", "15496,11", "--temperature", "0",
                                                    "--ignore-eos", "--max-tokens", "20", "--format", "json"])
        #expect(output.status == 65, "\(output.stderr)")
        #expect(output.stderr.hasPrefix("generate: error: the model's logit for token id "), "\(output.stderr)")
        #expect(output.stderr.hasSuffix(" after position 3 is not finite (NaN or infinite): its weights overflow float32 on this input\n"), "\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1, "\(output.stderr)")
    }
}

/// A config.json and a checkpoint that disagree, as the `generate` user meets them.
@Suite struct DisagreeingFilesCLITests {
    @Test("n_layer smaller than the checkpoint's blocks exits 65 with one line naming both files")
    func fewerLayers() throws {
        let directory = try NonFiniteWeightsCLITests.model("transformer.ln_f.bias", index: 0, values: [0])
        let url = directory.file("config.json")
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config["n_layer"] = 1
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let output = try GenerateCLITests.generate(["--model", directory.path, "hi"])
        #expect(output.status == 65, "\(output.stderr)")
        #expect(output.stderr.hasPrefix("generate: error: \(directory.file("model.safetensors").path): holds block h.1 (tensor \"transformer.h.1."), "\(output.stderr)")
        #expect(output.stderr.hasSuffix(" but \(url.path) says n_layer 1; the two files disagree\n"), "\(output.stderr)")
        #expect(output.stdout.isEmpty)
    }
}
