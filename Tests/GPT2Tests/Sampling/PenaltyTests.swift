import Testing
@testable import GPT2

@Suite("Sampler penalties")
struct SamplingPenaltyTests {
    // Token:            0     1     2     3     4     5
    let logits: [Float] = [2.0, -1.0, 0.5, 3.0, -2.0, 0.0]
    // Token 0 once, token 1 twice, token 3 once, token 5 once; 4 and 2 never.
    let history = [0, 1, 1, 3, 5]

    /// The logits after `PenaltyProcessor`, set up as `Sampler` sets it up from `parameters`.
    func penalised(_ parameters: GenerationParameters, history: [Int]? = nil) -> [Float] {
        var values = logits
        let processor = PenaltyProcessor(
            repetitionPenalty: parameters.repetitionPenalty, presencePenalty: parameters.presencePenalty,
            frequencyPenalty: parameters.frequencyPenalty, contextSize: parameters.repetitionContextSize)
        processor.process(&values, history: history ?? self.history)
        return values
    }

    func expectClose(_ actual: [Float], _ expected: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        for (a, e) in zip(actual, expected) {
            #expect(abs(a - e) <= 1e-6 * max(1, abs(e)), "\(actual) != \(expected)", sourceLocation: sourceLocation)
        }
    }

    @Test("defaults change nothing")
    func defaultsAreOff() {
        #expect(penalised(GenerationParameters()) == logits)
        #expect(penalised(GenerationParameters(repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0)) == logits)
    }

    @Test("repetition penalty divides positive logits and multiplies negative ones, once per token")
    func repetition() {
        // 2.0 / 2 = 1.0; -1.0 * 2 = -2.0 (once, although it occurs twice); 3.0 / 2 = 1.5; 0 * 2 = 0.
        expectClose(penalised(GenerationParameters(repetitionPenalty: 2)), [1.0, -2.0, 0.5, 1.5, -2.0, 0.0])
        // A penalty below 1 rewards repetition: 2.0 / 0.5 = 4.0; -1.0 * 0.5 = -0.5; 3.0 / 0.5 = 6.0.
        expectClose(penalised(GenerationParameters(repetitionPenalty: 0.5)), [4.0, -0.5, 0.5, 6.0, -2.0, 0.0])
    }

    @Test("presence penalty subtracts once per occurring token")
    func presence() {
        expectClose(penalised(GenerationParameters(presencePenalty: 0.5)), [1.5, -1.5, 0.5, 2.5, -2.0, -0.5])
        expectClose(penalised(GenerationParameters(presencePenalty: -1)), [3.0, 0.0, 0.5, 4.0, -2.0, 1.0])
    }

    @Test("frequency penalty subtracts per occurrence")
    func frequency() {
        // Token 1 occurs twice: -1.0 - 2 * 0.25 = -1.5.
        expectClose(penalised(GenerationParameters(frequencyPenalty: 0.25)), [1.75, -1.5, 0.5, 2.75, -2.0, -0.25])
    }

    @Test("all three: repetition first, then presence and frequency")
    func combined() {
        let parameters = GenerationParameters(repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25)
        // 0: 2/2 - 0.5 - 0.25 = 0.25      1: -1*2 - 0.5 - 0.5 = -3.0
        // 3: 3/2 - 0.5 - 0.25 = 0.75      5: 0*2 - 0.5 - 0.25 = -0.75
        expectClose(penalised(parameters), [0.25, -3.0, 0.5, 0.75, -2.0, -0.75])
    }

    @Test("only the last repetitionContextSize tokens count")
    func window() {
        // The last 2 tokens of [0, 1, 1, 3, 5] are [3, 5].
        let two = GenerationParameters(repetitionPenalty: 2, frequencyPenalty: 0.25, repetitionContextSize: 2)
        expectClose(penalised(two), [2.0, -1.0, 0.5, 1.25, -2.0, -0.25])
        // The last 4 are [1, 1, 3, 5]: token 1 counted twice, token 0 left alone.
        let four = GenerationParameters(frequencyPenalty: 0.25, repetitionContextSize: 4)
        expectClose(penalised(four), [2.0, -1.5, 0.5, 2.75, -2.0, -0.25])
        // Counts come from the window only: history [3, 3, 3, 0, 3], window 2 = [0, 3]: once each.
        let counted = penalised(GenerationParameters(frequencyPenalty: 1, repetitionContextSize: 2), history: [3, 3, 3, 0, 3])
        expectClose(counted, [1.0, -1.0, 0.5, 2.0, -2.0, 0.0])
    }

    @Test("repetitionContextSize 0, or larger than the history, means the whole history")
    func wholeHistory() {
        let expected: [Float] = [1.75, -1.5, 0.5, 2.75, -2.0, -0.25]
        expectClose(penalised(GenerationParameters(frequencyPenalty: 0.25, repetitionContextSize: 0)), expected)
        expectClose(penalised(GenerationParameters(frequencyPenalty: 0.25, repetitionContextSize: 1000)), expected)
    }

    @Test("an empty history and out-of-range ids change nothing")
    func ignoredIds() {
        let parameters = GenerationParameters(repetitionPenalty: 3, presencePenalty: 1, frequencyPenalty: 1)
        #expect(penalised(parameters, history: []) == logits)
        #expect(penalised(parameters, history: [6, 50256, -1, Int.max, Int.min]) == logits)
        expectClose(penalised(parameters, history: [-5, 4, 99]), [2.0, -1.0, 0.5, 3.0, -8.0, 0.0])
    }

    @Test("the sampler applies the same penalties (its distribution is the softmax of the penalised logits)")
    func samplerUsesTheProcessor() {
        let parameters = GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0,
                                              repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25)
        let candidates = Sampler(parameters: parameters).candidates(for: logits, history: history)
        let expected = SamplingFixtures.expected(penalised(parameters), temperature: 1)
        #expect(candidates.map(\.id) == expected.ids)
        for (candidate, probability) in zip(candidates, expected.probabilities) {
            #expect(abs(Double(candidate.probability) - probability) < 1e-6)
        }
    }

    @Test("sample() applies the penalties before choosing")
    func sampleUsesPenalties() {
        var sampler = Sampler(parameters: GenerationParameters(temperature: 0, repetitionPenalty: 2.5))
        // Token 3 (3.0) is the argmax; penalised it is 1.2 < 2.0 (token 0).
        var values = logits
        #expect(sampler.sample(logits: &values, history: [3]) == 0)
        // Both penalised: 0 -> 0.8, 3 -> 1.2; the next best unpenalised is token 2 (0.5): token 3 wins.
        values = logits
        #expect(sampler.sample(logits: &values, history: [0, 3]) == 3)
    }
}
