import Foundation
import Testing
import TestSupport
@testable import GPT2
@testable import GPT2Kernels

/// `WeightPrecision.int8`: the loader's quantization against one written here from its
/// definition, and what it costs in quality on the demo model and the reference fixtures.
@Suite struct Int8PrecisionTests {
    /// `w` rounded as int8 with a scale per 64 consecutive values taken `stride` apart, starting
    /// at each of `starts`: the definition (scale = largest magnitude / 127, value = round(w /
    /// scale) · scale, in float32, whose rounding decides the values at a step's midpoint).
    static func roundTrip(_ w: inout [Float], starts: [Int], length: Int, stride: Int) {
        for start in starts {
            for block in Swift.stride(from: 0, to: length, by: 64) {
                let indices = (block..<min(length, block + 64)).map { start + $0 * stride }
                let scale = indices.map { abs(w[$0]) }.max()! / 127
                for i in indices { w[i] = scale == 0 ? 0 : (w[i] / scale).rounded() * scale }
            }
        }
    }

    @Test("float32 weights kept in int8 give the logits of the same weights rounded beforehand")
    func quantizedAtLoad() throws {
        var rounded = try CheckpointLayoutTests.fixture()
        for i in rounded.tensors.indices {
            let tensor = rounded.tensors[i]
            let isTable = tensor.name.hasSuffix("wte.weight") || tensor.name.hasSuffix("lm_head.weight")
            let isConv1D = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"].contains { tensor.name.hasSuffix($0) }
            guard isTable || isConv1D else { continue }
            var floats = tensor.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let (rows, columns) = (tensor.shape[0], tensor.shape[1])
            if isTable {  // [vocab, n_embd]: a scale per 64 values of a row
                Self.roundTrip(&floats, starts: (0..<rows).map { $0 * columns }, length: columns, stride: 1)
            } else {      // Conv1D [in, out]: a scale per 64 inputs of one output, down a column
                Self.roundTrip(&floats, starts: Array(0..<columns), length: rows, stride: columns)
            }
            rounded.tensors[i].data = floats.withUnsafeBytes { Data($0) }
        }
        let expected = try CheckpointLayoutTests.logits(try CheckpointLayoutTests.directory(rounded))
        for residency in WeightResidency.allCases {
            let model = try GPT2Model(directory: CheckpointLayoutTests.source, residency: residency, precision: .int8)
            let actual = try model.forward(CheckpointLayoutTests.prompt, cache: try model.makeCache(), logits: .all).values
            // the decode kernels' rounding of x to int16 moves them by about 1e-4
            #expect(zip(expected, actual).map { abs($0 - $1) }.max()! <= 1e-3, "\(residency)")
            // and the weights' rounding moved them well beyond that
            let unrounded = try CheckpointLayoutTests.logits(CheckpointLayoutTests.source)
            #expect(zip(unrounded, actual).map { abs($0 - $1) }.max()! > 5e-3)
            // decode reads 1.0625 bytes a weight
            let single = try GPT2Model(directory: CheckpointLayoutTests.source)
            #expect(Double(model.decodeBytesPerToken) == Double(single.decodeBytesPerToken) * 1.0625 / 4)
        }
    }

    @Test("weights read from the file in small pieces quantize to the same bytes as in one piece")
    func pieces() throws {
        let directory = CheckpointLayoutTests.source
        let config = try GPT2Config(contentsOf: directory.appendingPathComponent("config.json"))
        let whole = try GPT2Weights.load(directory: directory, config: config, residency: .mapped, precision: .int8)
        // 16 KB: wte [50257, 64] in pieces of 64 rows; mlp.c_proj [256, 64], transposed, in pieces of 64 inputs (one block)
        let pieces = try GPT2Weights.load(directory: directory, config: config, residency: .mapped, precision: .int8,
                                          int8PieceBytes: 16 << 10)
        func bytes(_ m: Matrix) throws -> (q: [Int8], scales: [Float]) {
            guard case .int8(let q, let scales) = m.elements else { throw CancellationError() }
            let blocks = int8Blocks(rowLength: m.inputSize)
            return (Array(UnsafeBufferPointer(start: q, count: m.inputSize * m.outputSize)),
                    Array(UnsafeBufferPointer(start: scales, count: m.outputSize * blocks)))
        }
        #expect(try bytes(whole.wte) == bytes(pieces.wte))
        for (a, b) in zip(whole.h, pieces.h) {
            for (x, y) in [(a.c_attn, b.c_attn), (a.attn_c_proj, b.attn_c_proj), (a.c_fc, b.c_fc), (a.mlp_c_proj, b.mlp_c_proj)] {
                #expect(try bytes(x.weight) == bytes(y.weight))
            }
        }
        #expect(config.innerSize / 64 > 1, "the fixture's mlp.c_proj must span several pieces")
    }

    /// Held out: records of the demo corpus generator under another seed than the training's
    /// (Benchmarks/mixed_en_zh.txt, seed 2026; the model was trained on seed 1234).
    @Test("the demo model in int8 scores held-out English and Chinese pitches within 1 % of float32")
    func heldOutText() throws {
        let text = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Benchmarks/mixed_en_zh.txt"), encoding: .utf8)
        let records = text.components(separatedBy: "\n\n").prefix(8)
        let tokenizer = try GPT2Tokenizer(directory: TestPaths.salesDemo)
        var sums: [WeightPrecision: Double] = [:]
        for precision in [WeightPrecision.float32, .int8] {
            let generator = TextGenerator(model: try GPT2Model(directory: TestPaths.salesDemo, precision: precision), tokenizer: tokenizer)
            sums[precision] = try records.reduce(0) { total, record in
                total + (try generator.promptLogprobs(tokenizer.encode(record))).compactMap { $0 }.reduce(0, +)
            }
        }
        let (single, int8) = (sums[.float32]!, sums[.int8]!)
        print("held-out summed log-prob: f32 \(single), int8 \(int8), drift \(100 * (int8 - single) / abs(single)) %")
        #expect(single < -100)  // the text was scored
        #expect(abs(int8 - single) < 0.01 * abs(single))
    }

    /// The drift against Hugging Face's float32/64 logits, next to float16's, for Benchmarks/README.md.
    @Test("int8 logits stay near the reference fixtures' logits", arguments: ["tiny-gpt2-f32", "small-gpt2-f16", "relu-gpt2-f32", "options-gpt2-bf16"])
    func referenceDrift(name: String) throws {
        let directory = TestPaths.reference.appendingPathComponent(name)
        for precision in WeightPrecision.allCases {
            let model = try GPT2Model(directory: directory, precision: precision)
            var (worstLogit, summed, referenceSum, greedyMatches) = (0.0, 0.0, 0.0, 0)
            let cases = try ReferenceFile.load(name).cases
            for example in cases {
                let logits = try model.forward(example.input_ids, cache: try model.makeCache(), logits: .all)
                let V = logits.vocabularySize, last = (example.input_ids.count - 1) * V
                for i in 0..<64 {
                    worstLogit = max(worstLogit, abs(Double(logits.values[i]) - example.first_logits_first64[i]),
                                     abs(Double(logits.values[last + i]) - example.last_logits_first64[i]))
                }
                for (position, expected) in example.logprob_of_next_token.enumerated() {
                    let row = Array(logits.values[(position * V)..<((position + 1) * V)])
                    let top = row.max()!
                    let logSum = Double(top) + log(row.reduce(0.0) { $0 + exp(Double($1 - top)) })
                    summed += Double(row[example.input_ids[position + 1]]) - logSum
                    referenceSum += expected
                }
                let cache = try model.makeCache()
                var next = try model.forward(example.input_ids, cache: cache)
                var generated: [Int] = []
                for _ in 0..<20 {
                    generated.append(argmax(next.last))
                    next = try model.forward([generated.last!], cache: cache)
                }
                if generated == example.greedy_20 { greedyMatches += 1 }
            }
            let drift = 100 * (summed - referenceSum) / abs(referenceSum)
            print("| \(name) | \(precision.rawValue) | \(worstLogit) | \(drift) % | \(greedyMatches)/\(cases.count) |")
            #expect(abs(drift) < 1, "\(precision): summed log-prob off by \(drift) %")
            if precision != .int8 { #expect(greedyMatches == cases.count) }
        }
    }
}
