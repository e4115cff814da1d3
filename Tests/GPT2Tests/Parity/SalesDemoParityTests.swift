import Foundation
import Testing
import TestSupport
@testable import GPT2

/// The trained demo model in `Models/` against greedy continuations from a float64 reference.
@Suite struct SalesDemoParityTests {
    @Test("greedy continuations are identical token for token, up to <|endoftext|>")
    func greedyPitches() throws {
        let model = try GPT2Model(directory: TestPaths.salesDemo)
        for example in try SalesDemoCase.loadAll() {
            let cache = try model.makeCache()
            let promptLogits = try model.forward(example.prompt_ids, cache: cache, logits: .all)
            #expect(topK(promptLogits.last, 5) == example.last_logits_top5)

            var sum = 0.0
            for position in 0..<(example.prompt_ids.count - 1) {
                sum += logProbability(promptLogits[row: position], example.prompt_ids[position + 1])
            }
            #expect(abs(sum - example.prompt_logprob_sum) <= 1e-3)

            // The reference lists the pitch without the <|endoftext|> that ended it.
            var generated: [Int] = []
            var logits = promptLogits.last
            while generated.count <= example.greedy_ids.count {
                let next = argmax(logits)
                if next == 50256 { break }
                generated.append(next)
                logits = try model.forward([next], cache: cache).last
            }
            #expect(example.stopped_at_eos)
            #expect(generated == example.greedy_ids)
        }
    }
}
