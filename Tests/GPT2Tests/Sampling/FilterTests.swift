import Foundation
import Testing
import TestSupport
@testable import GPT2

@Suite("Sampler filters")
struct SamplingFilterTests {
    /// Checks `candidates(for:)` against the definition, then draws `count` tokens and checks
    /// that every one is in the set and (when `count` allows) that every member shows up.
    func check(
        _ logits: [Float], _ parameters: GenerationParameters, draws count: Int,
        expectEveryMember: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let expected = SamplingFixtures.expected(
            logits, temperature: Double(parameters.temperature), topK: parameters.topK,
            topP: Double(parameters.topP), minP: Double(parameters.minP)
        )
        #expect(expected.margin > 5e-6, "the test data is too close to a threshold", sourceLocation: sourceLocation)
        let sampler = Sampler(parameters: parameters)
        let candidates = sampler.candidates(for: logits)
        // Compared as sets (tokens whose probabilities round to the same Float may come in
        // either order), with a short message on failure.
        let got = Dictionary(uniqueKeysWithValues: candidates.map { ($0.id, Double($0.probability)) })
        let want = Dictionary(uniqueKeysWithValues: zip(expected.ids, expected.probabilities))
        let missing = Set(want.keys).subtracting(got.keys).sorted()
        let extra = Set(got.keys).subtracting(want.keys).sorted()
        #expect(candidates.count == got.count, "duplicate ids", sourceLocation: sourceLocation)
        let sameSet = missing.isEmpty && extra.isEmpty
        #expect(sameSet,
                "\(got.count) candidates, \(want.count) expected; missing \(missing.prefix(10)), extra \(extra.prefix(10))",
                sourceLocation: sourceLocation)
        let wrong = want.filter { id, probability in
            guard let actual = got[id] else { return false }
            return abs(actual - probability) > 1e-5 * probability + 1e-7
        }
        let wrongCount = wrong.count
        #expect(wrongCount == 0, "\(wrong.count) probabilities differ, e.g. \(wrong.first.map { "\($0.key): \(got[$0.key]!) vs \($0.value)" } ?? "")",
                sourceLocation: sourceLocation)
        // Sorted by decreasing probability.
        #expect(zip(candidates, candidates.dropFirst()).allSatisfy { $0.probability >= $1.probability }, sourceLocation: sourceLocation)
        var drawing = sampler
        let drawn = SamplingFixtures.draws(&drawing, logits, count: count)
        let allowed = Set(expected.ids)
        let outside = Set(drawn.filter { !allowed.contains($0) }).sorted()
        let drawnOutside = outside.count
        #expect(drawnOutside == 0, "drawn outside the set: \(outside.prefix(10))", sourceLocation: sourceLocation)
        if expectEveryMember {
            let neverDrawn = allowed.subtracting(drawn).sorted()
            let neverDrawnCount = neverDrawn.count
            #expect(neverDrawnCount == 0, "members never drawn: \(neverDrawn.prefix(10))", sourceLocation: sourceLocation)
        }
    }

    @Test("top-k keeps exactly the k most probable tokens")
    func topK() {
        let logits = SamplingFixtures.logits(count: 300, seed: 21)
        let parameters = GenerationParameters(temperature: 1.1, topK: 7, topP: 1, minP: 0, seed: 1)
        let expected = SamplingFixtures.expected(logits, temperature: 1.1, topK: 7)
        #expect(expected.ids.count == 7)
        check(logits, parameters, draws: 4000)
    }

    @Test("top-k ties go to the lower ids")
    func topKTies() {
        var logits = [Float](repeating: 0, count: 100)
        for id in [5, 30, 31, 77, 90] { logits[id] = 2 }
        let sampler = Sampler(parameters: GenerationParameters(temperature: 1, topK: 3, topP: 1, minP: 0))
        #expect(sampler.candidates(for: logits).map(\.id) == [5, 30, 31])
        // Ties at the k-th place among equal logits: the lowest ids win.
        let flat = [Float](repeating: 1, count: 100)
        #expect(Sampler(parameters: GenerationParameters(temperature: 1, topK: 4, topP: 1, minP: 0))
            .candidates(for: flat).map(\.id) == [0, 1, 2, 3])
    }

    @Test("top-k on a GPT-2-sized vocabulary", arguments: [1, 40, 1000, 30000])
    func topKLargeVocabulary(k: Int) {
        let logits = SamplingFixtures.logits(count: 50257, seed: UInt64(k), scale: 2.5, offset: -2)
        let parameters = GenerationParameters(temperature: 0.8, topK: k, topP: 1, minP: 0, seed: 4)
        check(logits, parameters, draws: 5, expectEveryMember: k == 1)
    }

    @Test("top-p keeps the smallest most-probable set reaching topP")
    func topP() {
        let logits = SamplingFixtures.logits(count: 100, seed: 5, scale: 1.5)
        let parameters = GenerationParameters(temperature: 0.9, topK: 0, topP: 0.8, minP: 0, seed: 2)
        let expected = SamplingFixtures.expected(logits, temperature: 0.9, topP: 0.8)
        #expect(expected.ids.count > 5 && expected.ids.count < 80)
        check(logits, parameters, draws: 3000, expectEveryMember: false)
    }

    @Test("top-p on hand-made probabilities")
    func topPByHand() {
        // Probabilities 0.4, 0.3, 0.2, 0.1 (T = 1): topP 0.65 keeps {0, 1} (0.4 < 0.65 <= 0.7),
        // topP 0.75 keeps {0, 1, 2}, topP 0.3 keeps {0}.
        let logits = [0.2, 0.4, 0.1, 0.3].map { Float(log($0)) } // ids: 1 (0.4), 3 (0.3), 0 (0.2), 2 (0.1)
        for (topP, ids) in [(Float(0.65), [1, 3]), (0.75, [1, 3, 0]), (0.3, [1]), (0.95, [1, 3, 0, 2])] {
            let parameters = GenerationParameters(temperature: 1, topK: 0, topP: topP, minP: 0, seed: 3)
            #expect(Sampler(parameters: parameters).candidates(for: logits).map(\.id) == ids)
            check(logits, parameters, draws: 1000)
        }
    }

    @Test("top-p after top-k uses the probabilities renormalised over the top k")
    func topPAfterTopK() {
        // Probabilities 0.3, 0.25, 0.2, 0.15, 0.1. Top-3 renormalised: 0.4, 0.333, 0.267.
        // topP 0.7: renormalised, {0, 1} reaches 0.733; unrenormalised it would need {0, 1, 2}.
        let logits = [0.3, 0.25, 0.2, 0.15, 0.1].map { Float(log($0)) }
        let parameters = GenerationParameters(temperature: 1, topK: 3, topP: 0.7, minP: 0, seed: 4)
        #expect(Sampler(parameters: parameters).candidates(for: logits).map(\.id) == [0, 1])
        check(logits, parameters, draws: 1000)
    }

    @Test("top-p when the distribution is flat (many candidates)")
    func topPFlat() {
        // Every probability is below 1e-4: the nucleus holds most of the 12000 tokens.
        let logits = SamplingFixtures.uniformLogits(count: 12000, seed: 6, in: 0...0.3)
        let parameters = GenerationParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 5)
        let expected = SamplingFixtures.expected(logits, temperature: 1, topP: 0.9)
        #expect(expected.ids.count > 9000)
        let candidates = Sampler(parameters: parameters).candidates(for: logits)
        #expect(candidates.count == expected.ids.count)
        #expect(Set(candidates.map(\.id)) == Set(expected.ids), "the sets differ")
        var sampler = Sampler(parameters: parameters)
        let allowed = Set(expected.ids)
        #expect(SamplingFixtures.draws(&sampler, logits, count: 5).allSatisfy { allowed.contains($0) })
    }

    @Test("top-p on a GPT-2-sized vocabulary", arguments: [Float(0.5), 0.9])
    func topPLargeVocabulary(topP: Float) {
        let logits = SamplingFixtures.logits(count: 50257, seed: 18, scale: 2.5, offset: -2)
        var peaked = logits
        for i in 0..<30 { peaked[(i * 7919) % 50257] = 9 + Float(i) * 0.1 }
        let parameters = GenerationParameters(temperature: 0.8, topK: 0, topP: topP, minP: 0, seed: 6)
        // Peaked: a short nucleus; plain: thousands of tokens in the nucleus.
        check(topP < 0.7 ? peaked : logits, parameters, draws: 2, expectEveryMember: false)
    }

    @Test("min-p keeps the tokens with p >= minP * p_max")
    func minP() {
        let logits = SamplingFixtures.logits(count: 150, seed: 9, scale: 1.2)
        let parameters = GenerationParameters(temperature: 1.3, topK: 0, topP: 1, minP: 0.1, seed: 7)
        let expected = SamplingFixtures.expected(logits, temperature: 1.3, minP: 0.1)
        #expect(expected.ids.count > 5 && expected.ids.count < 120)
        check(logits, parameters, draws: 3000, expectEveryMember: false)
    }

    @Test("min-p is applied after temperature")
    func minPAfterTemperature() {
        // Weights at T = 1: 1, e^-1 = 0.37, e^-2 = 0.14, e^-3 = 0.05. With minP 0.2: {0, 1}.
        // At T = 2: 1, 0.61, 0.37, 0.22: all four.
        let logits: [Float] = [3, 2, 1, 0]
        #expect(Sampler(parameters: GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0.2))
            .candidates(for: logits).map(\.id) == [0, 1])
        #expect(Sampler(parameters: GenerationParameters(temperature: 2, topK: 0, topP: 1, minP: 0.2))
            .candidates(for: logits).map(\.id) == [0, 1, 2, 3])
        check(logits, GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0.2, seed: 1), draws: 500)
    }

    @Test("min-p with top-k, and with top-p")
    func minPCombined() {
        let logits = SamplingFixtures.logits(count: 120, seed: 10, scale: 1.5)
        check(logits, GenerationParameters(temperature: 1, topK: 30, topP: 1, minP: 0.05, seed: 8), draws: 2000, expectEveryMember: false)
        check(logits, GenerationParameters(temperature: 1, topK: 0, topP: 0.6, minP: 0.2, seed: 9), draws: 2000, expectEveryMember: false)
    }

    @Test("all filters at their defaults", arguments: [1000, 50257])
    func defaults(vocabulary: Int) {
        var logits = SamplingFixtures.logits(count: vocabulary, seed: 11, scale: 2.5, offset: -2)
        for i in 0..<25 { logits[(i * 613) % vocabulary] = 7 + Float(i) * 0.15 }
        check(logits, GenerationParameters(seed: 10), draws: vocabulary > 10000 ? 5 : 2000, expectEveryMember: false)
    }

    // MARK: - Distributions

    /// Draws `count` tokens and returns the chi-square statistic against the expected
    /// probabilities (every expected id must be one of the bins; anything else fails the test).
    func chiSquare(_ logits: [Float], _ parameters: GenerationParameters, draws count: Int) -> (Double, Int) {
        let expected = SamplingFixtures.expected(
            logits, temperature: Double(parameters.temperature), topK: parameters.topK,
            topP: Double(parameters.topP), minP: Double(parameters.minP)
        )
        var sampler = Sampler(parameters: parameters)
        var counts = [Int: Int]()
        for token in SamplingFixtures.draws(&sampler, logits, count: count) { counts[token, default: 0] += 1 }
        #expect(Set(counts.keys).isSubset(of: expected.ids))
        let statistic = SamplingFixtures.chiSquare(counts: expected.ids.map { counts[$0] ?? 0 }, probabilities: expected.probabilities)
        return (statistic, expected.ids.count - 1)
    }

    static let distributionLogits: [Float] = [1.0, 2.0, 0.5, -1.0, 1.5, 0.0]

    @Test("without filters, draws follow softmax(logits / T)")
    func softmaxDistribution() {
        let (statistic, degrees) = chiSquare(Self.distributionLogits, GenerationParameters(temperature: 0.7, topK: 0, topP: 1, minP: 0, seed: 42), draws: 30000)
        #expect(degrees == 5)
        // P(chi-square with 5 degrees of freedom > 35.9) = 1e-6; the seed is fixed anyway.
        #expect(statistic < 35.9)
    }

    @Test("without filters, over more than one SIMD chunk, draws follow softmax(logits / T)")
    func softmaxDistributionChunked() {
        // 20 tokens: a 16-logit chunk plus a scalar tail, in the dense (unsorted) path.
        let logits = (0..<20).map { Float(($0 * 7) % 20) * 0.1 }
        let (statistic, degrees) = chiSquare(logits, GenerationParameters(temperature: 1.2, topK: 0, topP: 1, minP: 0, seed: 45), draws: 10000)
        #expect(degrees == 19)
        #expect(statistic < 63.7) // P = 1e-6 for 19 degrees of freedom
    }

    @Test("after top-k, draws follow the renormalised softmax")
    func topKDistribution() {
        let (statistic, degrees) = chiSquare(Self.distributionLogits, GenerationParameters(temperature: 1.3, topK: 4, topP: 1, minP: 0, seed: 43), draws: 30000)
        #expect(degrees == 3)
        #expect(statistic < 30.7) // P = 1e-6 for 3 degrees of freedom
    }

    @Test("after top-p and min-p, draws follow the renormalised softmax")
    func topPMinPDistribution() {
        let (statistic, degrees) = chiSquare(Self.distributionLogits, GenerationParameters(temperature: 1, topK: 0, topP: 0.97, minP: 0.15, seed: 44), draws: 30000)
        // Top-p keeps 5 of the 6 tokens (cumulative 0.979), min-p then drops 0 (p / p_max = 0.135).
        #expect(degrees == 3)
        #expect(statistic < 30.7) // P = 1e-6 for 3 degrees of freedom
    }

    @Test("the chi-square check detects a wrong temperature")
    func chiSquareHasPower() {
        // Draws at T = 1 judged against T = 0.7: the statistic must be far above the bound used
        // above, so those tests can fail.
        var sampler = Sampler(parameters: GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42))
        var counts = [Int](repeating: 0, count: 6)
        for token in SamplingFixtures.draws(&sampler, Self.distributionLogits, count: 30000) { counts[token] += 1 }
        let expected = SamplingFixtures.expected(Self.distributionLogits, temperature: 0.7)
        let statistic = SamplingFixtures.chiSquare(counts: expected.ids.map { counts[$0] }, probabilities: expected.probabilities)
        #expect(statistic > 1000)
    }
}
