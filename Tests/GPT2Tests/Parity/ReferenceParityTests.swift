import Foundation
import Testing
import TestSupport
@testable import GPT2

/// The engine against Hugging Face `transformers` on the fixture checkpoints (random weights):
/// float32 and float16 GPT-2 layouts, and two small ones (vocabulary of 1000) that exercise the
/// other config options: exact `gelu`, `n_inner`, `scale_attn_by_inverse_layer_idx`, an untied
/// `lm_head`, bfloat16 weights; `relu` without `scale_attn_weights`. Each with mapped and with
/// resident weights (float32 ones kept transposed, and so decoded by other kernels).
@Suite struct ReferenceParityTests {
    static let models = ["tiny-gpt2-f32", "small-gpt2-f16", "options-gpt2-bf16", "relu-gpt2-f32"]
    static let tolerance = 1e-4

    static func load(_ name: String, _ residency: WeightResidency) throws -> GPT2Model {
        try GPT2Model(directory: TestPaths.reference.appendingPathComponent(name), residency: residency)
    }

    @Test("logits of the first and last positions match within 1e-4", arguments: models, WeightResidency.allCases)
    func logitsMatch(model name: String, residency: WeightResidency) throws {
        let model = try Self.load(name, residency)
        let reference = try ReferenceFile.load(name)
        for example in reference.cases {
            let logits = try model.forward(example.input_ids, cache: try model.makeCache(), logits: .all)
            #expect(logits.rowCount == example.input_ids.count)
            let first = logits[row: 0], last = logits.last
            for i in 0..<64 {
                #expect(abs(Double(first[first.startIndex + i]) - example.first_logits_first64[i]) <= Self.tolerance,
                        "first position, logit \(i), prompt \(example.input_ids.prefix(4))")
                #expect(abs(Double(last[last.startIndex + i]) - example.last_logits_first64[i]) <= Self.tolerance,
                        "last position, logit \(i), prompt \(example.input_ids.prefix(4))")
            }
            #expect(topK(last, 10) == example.last_logits_top10)
            // The sum of 50,257 logits accumulates rounding, so compare it relative to its terms' scale.
            for (position, expected) in example.logits_sum_per_position.enumerated() {
                let sum = logits[row: position].reduce(0.0) { $0 + Double($1) }
                #expect(abs(sum - expected) <= 1e-3 * max(1, abs(expected)), "position \(position)")
            }
            for (position, expected) in example.logprob_of_next_token.enumerated() {
                let actual = logProbability(logits[row: position], example.input_ids[position + 1])
                #expect(abs(actual - expected) <= Self.tolerance, "log-prob at position \(position)")
            }
        }
    }

    @Test("20-token greedy continuations are identical", arguments: models, WeightResidency.allCases)
    func greedyContinuation(model name: String, residency: WeightResidency) throws {
        let model = try Self.load(name, residency)
        for example in try ReferenceFile.load(name).cases {
            let cache = try model.makeCache()
            var logits = try model.forward(example.input_ids, cache: cache)
            var generated: [Int] = []
            for _ in 0..<20 {
                let next = argmax(logits.last)
                generated.append(next)
                logits = try model.forward([next], cache: cache)
            }
            #expect(generated == example.greedy_20)
        }
    }

    @Test("incremental decoding with the KV cache equals a full recompute", arguments: models, WeightResidency.allCases)
    func incrementalEqualsFull(model name: String, residency: WeightResidency) throws {
        let model = try Self.load(name, residency)
        let ids = try ReferenceFile.load(name).cases.max { $0.input_ids.count < $1.input_ids.count }!.input_ids
        let full = try model.forward(ids, cache: try model.makeCache(), logits: .all)

        // one token at a time
        let cache = try model.makeCache()
        for (position, id) in ids.enumerated() {
            let step = try model.forward([id], cache: cache)
            let expected = full[row: position]
            let worst = zip(step.last, expected).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4, "position \(position): max difference \(worst)")
        }
        // a prompt chunk, then uneven chunks
        let chunked = try model.makeCache()
        var position = 0
        for size in [7, 1, 13, 2, ids.count] where position < ids.count {
            let chunk = Array(ids[position..<min(ids.count, position + size)])
            let logits = try model.forward(chunk, cache: chunked, logits: .all)
            for row in 0..<chunk.count {
                let worst = zip(logits[row: row], full[row: position + row]).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-4, "chunked, position \(position + row): max difference \(worst)")
            }
            position += chunk.count
        }
        #expect(chunked.count == ids.count)

        // filling the cache without logits, then continuing, gives the same last logits
        let filled = try model.makeCache()
        let none = try model.forward(Array(ids.dropLast()), cache: filled, logits: .none)
        #expect(none.rowCount == 0 && none.values.isEmpty)
        let last = try model.forward([ids.last!], cache: filled)
        #expect(zip(last.last, full.last).map { abs($0 - $1) }.max()! <= 1e-4)
    }

    @Test("a batch of sequences gives each sequence its own logits", arguments: models, WeightResidency.allCases)
    func batchEqualsSingle(model name: String, residency: WeightResidency) throws {
        let model = try Self.load(name, residency)
        let prompts = try ReferenceFile.load(name).cases.map(\.input_ids)
        let caches = try prompts.map { _ in try model.makeCache() }
        let batched = try model.forward(batch: Array(zip(prompts, caches)), logits: .last)
        for (prompt, logits) in zip(prompts, batched) {
            let single = try model.forward(prompt, cache: try model.makeCache())
            let worst = zip(logits.last, single.last).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4)
        }
        // one decode step for all of them at once
        let next = batched.map { argmax($0.last) }
        let step = try model.forward(batch: zip(next, caches).map { ([$0], $1) })
        for (i, prompt) in prompts.enumerated() {
            let single = try model.forward(prompt + [next[i]], cache: try model.makeCache())
            let worst = zip(step[i].last, single.last).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4)
        }
    }
}
