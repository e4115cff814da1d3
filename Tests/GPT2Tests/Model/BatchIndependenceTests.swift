import Foundation
import Testing
import TestSupport
@testable import GPT2

/// A sequence's logits do not depend on the company it keeps in `forward(batch:)`: decode steps
/// of any number of other sequences, prompts or chunks of prompts, in any order, give every
/// sequence the very bits it gets alone.
@Suite struct BatchIndependenceTests {
    /// A sequence of the test: `prefix` tokens already cached, then `step` new ones.
    struct Sequence {
        let prefix: [Int]
        let step: [Int]
    }

    static func tokens(_ count: Int, seed: Int, vocabularySize: Int) -> [Int] {
        var rng = TestRandom(seed: UInt64(seed))
        return (0..<count).map { _ in Int.random(in: 0..<min(vocabularySize, 50000), using: &rng) }
    }

    /// Mixes of decode steps (one new token after a prefix), prompts (no prefix) and prompt
    /// chunks (several new tokens after a prefix), up to 20 sequences: more than one group of
    /// decode rows.
    static func mixes(vocabularySize V: Int) -> [[Sequence]] {
        let decode = (0..<20).map { Sequence(prefix: tokens(3 + $0 * 2, seed: $0, vocabularySize: V), step: tokens(1, seed: 100 + $0, vocabularySize: V)) }
        let prompt = Sequence(prefix: [], step: tokens(40, seed: 200, vocabularySize: V))
        let shortPrompt = Sequence(prefix: [], step: tokens(5, seed: 201, vocabularySize: V))
        let chunk = Sequence(prefix: tokens(30, seed: 202, vocabularySize: V), step: tokens(24, seed: 203, vocabularySize: V))
        return [
            [decode[0], prompt],
            [prompt, decode[1], decode[2]],
            Array(decode[0..<8]),
            [decode[3], chunk, decode[4], shortPrompt, decode[5]],
            Array(decode[0..<20]) + [chunk],
            [shortPrompt, chunk, prompt],
        ]
    }

    @Test("logits alone and in company are identical", arguments: ["tiny-gpt2-f32", "small-gpt2-f16"], WeightResidency.allCases)
    func companyDoesNotMatter(name: String, residency: WeightResidency) throws {
        let model = try GPT2Model(directory: TestPaths.reference.appendingPathComponent(name), residency: residency)
        for (m, mix) in Self.mixes(vocabularySize: model.config.vocabularySize).enumerated() {
            func prepared(_ sequence: Sequence) throws -> KVCache {
                let cache = try model.makeCache()
                if !sequence.prefix.isEmpty { _ = try model.forward(sequence.prefix, cache: cache, logits: .none) }
                return cache
            }
            let alone = try mix.map { try model.forward($0.step, cache: try prepared($0), logits: .all) }
            let together = try model.forward(batch: try mix.map { ($0.step, try prepared($0)) }, logits: .all)
            for (i, (a, b)) in zip(alone, together).enumerated() {
                let differing = zip(a.values, b.values).count { $0.bitPattern != $1.bitPattern }
                #expect(differing == 0, "mix \(m), sequence \(i): \(differing) logits differ in company")
            }
        }
    }
}
