import Foundation
import Testing
@testable import GPT2

@Suite("Sampler")
struct SamplingSamplerTests {
    @Test("the same seed gives the same tokens; different seeds different tokens")
    func reproducibility() {
        // A flat distribution over 200 tokens: two independent sequences of 500 draws agree
        // with probability 200^-500.
        let flat = [Float](repeating: 0, count: 200)
        let parameters = GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1234)
        var a = Sampler(parameters: parameters)
        var b = Sampler(parameters: parameters)
        var parametersC = parameters
        parametersC.seed = 1235
        var c = Sampler(parameters: parametersC)
        let sa = SamplingFixtures.draws(&a, flat, count: 500)
        let sb = SamplingFixtures.draws(&b, flat, count: 500)
        let sc = SamplingFixtures.draws(&c, flat, count: 500)
        #expect(sa == sb)
        #expect(sa != sc)
        #expect(Set(sa).count > 180) // and it really draws from all of them

        // The same with the default filters on peaked logits (sparse path).
        let logits = SamplingFixtures.logits(count: 2000, seed: 3, scale: 2)
        var d = Sampler(parameters: GenerationParameters(seed: 77))
        var e = Sampler(parameters: GenerationParameters(seed: 77))
        #expect(SamplingFixtures.draws(&d, logits, count: 100) == SamplingFixtures.draws(&e, logits, count: 100))
    }

    @Test("a nil seed picks a random one, reported by `seed`")
    func randomSeed() {
        let a = Sampler(parameters: GenerationParameters())
        let b = Sampler(parameters: GenerationParameters())
        #expect(a.seed != b.seed)
        #expect(Sampler(parameters: GenerationParameters(seed: 5)).seed == 5)
        // Reusing the reported seed reproduces the run.
        let logits = [Float](repeating: 0, count: 100)
        var first = Sampler(parameters: GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0))
        var again = Sampler(parameters: GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: first.seed))
        #expect(SamplingFixtures.draws(&first, logits, count: 200) == SamplingFixtures.draws(&again, logits, count: 200))
    }

    @Test("temperature 0 returns the argmax and consumes no randomness")
    func greedyIsArgmax() {
        var sampler = Sampler(parameters: GenerationParameters(temperature: 0, seed: 1))
        let untouched = sampler.generator
        for seed in 0..<50 as Range<UInt64> {
            let logits = SamplingFixtures.logits(count: 1000 + Int(seed), seed: seed, scale: 3)
            var expected = 0
            for i in logits.indices where logits[i] > logits[expected] { expected = i }
            var scratch = logits
            #expect(sampler.sample(logits: &scratch, history: []) == expected)
        }
        #expect(sampler.generator == untouched)
        // Filters do not matter.
        var filtered = Sampler(parameters: GenerationParameters(temperature: 0, topK: 1, topP: 0.1, minP: 1))
        var logits: [Float] = [0.1, 0.7, 0.3]
        #expect(filtered.sample(logits: &logits, history: []) == 1)
    }

    @Test("temperature 0 breaks ties by the lowest id and ignores NaN")
    func greedyTies() {
        var sampler = Sampler(parameters: .greedy)
        var logits: [Float] = [1, 5, 2, 5, 5, -3]
        #expect(sampler.sample(logits: &logits, history: []) == 1)
        logits = [.nan, 1, .nan, 4, 4, .nan]
        #expect(sampler.sample(logits: &logits, history: []) == 3)
        // Ties across SIMD chunk boundaries and in the scalar tail.
        var long = [Float](repeating: 0, count: 100)
        long[99] = 7
        long[37] = 7
        long[20] = .nan
        #expect(sampler.sample(logits: &long, history: []) == 37)
        long = [Float](repeating: -1, count: 100)
        long[97] = 2
        #expect(sampler.sample(logits: &long, history: []) == 97)
    }

    @Test("temperature 0 with penalties returns the argmax of the penalised logits")
    func greedyWithPenalties() {
        let parameters = GenerationParameters(
            temperature: 0, repetitionPenalty: 1.5, presencePenalty: 0.3, frequencyPenalty: 0.2, repetitionContextSize: 8
        )
        var sampler = Sampler(parameters: parameters)
        for seed in 0..<40 as Range<UInt64> {
            let logits = SamplingFixtures.logits(count: 300, seed: 100 + seed, scale: 2)
            var generator = SeededGenerator(seed: seed)
            // Histories biased towards the top tokens so that the penalties matter.
            let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(3)
            let history = (0..<12).map { _ in
                generator.next() % 2 == 0 ? top.randomElement(using: &generator)! : Int(generator.next() % 300)
            }
            // The expected penalised logits, computed here from the rules.
            var expectedLogits = logits
            let window = history.suffix(8)
            for id in Set(window) {
                let count = Float(window.filter { $0 == id }.count)
                var l = expectedLogits[id]
                l = l > 0 ? l / 1.5 : l * 1.5
                expectedLogits[id] = l - 0.3 - 0.2 * count
            }
            var expected = 0
            for i in expectedLogits.indices where expectedLogits[i] > expectedLogits[expected] { expected = i }
            var scratch = logits
            #expect(sampler.sample(logits: &scratch, history: history) == expected)
        }
    }

    @Test("every non-greedy draw consumes exactly one random number")
    func randomnessUse() {
        var sampler = Sampler(parameters: GenerationParameters(seed: 31))
        var reference = SeededGenerator(seed: 31)
        var logits = SamplingFixtures.logits(count: 100, seed: 1)
        _ = sampler.sample(logits: &logits, history: [])
        _ = reference.next()
        #expect(sampler.generator == reference)
        var single: [Float] = [1] // even when there is only one candidate
        _ = sampler.sample(logits: &single, history: [])
        _ = reference.next()
        #expect(sampler.generator == reference)
    }

    @Test("NaN logits are never drawn")
    func nanNeverDrawn() {
        var logits = SamplingFixtures.logits(count: 64, seed: 8)
        for i in stride(from: 0, to: 64, by: 3) { logits[i] = .nan }
        for parameters in [
            GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1),
            GenerationParameters(temperature: 1, topK: 10, topP: 1, minP: 0, seed: 2),
            GenerationParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 3),
            GenerationParameters(temperature: 1, topK: 0, topP: 1, minP: 0.01, seed: 4),
            GenerationParameters(seed: 5),
        ] {
            var sampler = Sampler(parameters: parameters)
            let drawn = SamplingFixtures.draws(&sampler, logits, count: 300)
            #expect(drawn.allSatisfy { !logits[$0].isNaN })
            #expect(sampler.candidates(for: logits).allSatisfy { !logits[$0.id].isNaN })
        }
    }

    @Test("all -infinity or NaN logits give token 0", arguments: [0, 5, 40])
    func nothingFinite(topK: Int) {
        for logits in [
            [Float](repeating: -.infinity, count: 70),
            [Float](repeating: .nan, count: 70),
            (0..<70).map { $0 % 2 == 0 ? Float.nan : -Float.infinity },
        ] {
            for topP: Float in [1, 0.9] {
                var sampler = Sampler(parameters: GenerationParameters(temperature: 1, topK: topK, topP: topP, minP: 0, seed: 1))
                var scratch = logits
                #expect(sampler.sample(logits: &scratch, history: []) == 0)
                #expect(sampler.candidates(for: logits) == [SamplingCandidate(id: 0, probability: 1)])
            }
            var greedy = Sampler(parameters: .greedy)
            var scratch = logits
            #expect(greedy.sample(logits: &scratch, history: []) == 0)
        }
    }

    @Test("+infinity logits share the probability", arguments: [0, 50])
    func infiniteLogits(topK: Int) {
        var logits = SamplingFixtures.logits(count: 100, seed: 4)
        logits[17] = .infinity
        logits[60] = .infinity
        logits[30] = .nan
        var sampler = Sampler(parameters: GenerationParameters(temperature: 1, topK: topK, topP: 1, minP: 0, seed: 9))
        let drawn = SamplingFixtures.draws(&sampler, logits, count: 400)
        #expect(Set(drawn) == [17, 60])
        let candidates = sampler.candidates(for: logits)
        #expect(candidates == [SamplingCandidate(id: 17, probability: 0.5), SamplingCandidate(id: 60, probability: 0.5)])
        var greedy = Sampler(parameters: .greedy)
        var scratch = logits
        #expect(greedy.sample(logits: &scratch, history: []) == 17)
    }

    @Test("extreme temperatures do not break")
    func extremeTemperatures() {
        let logits: [Float] = [0.5, 3, 1, 3, -2]
        // Tiny: only the maxima remain, equally likely.
        var cold = Sampler(parameters: GenerationParameters(temperature: 1e-30, topK: 0, topP: 1, minP: 0, seed: 2))
        #expect(Set(SamplingFixtures.draws(&cold, logits, count: 200)) == [1, 3])
        // Huge: (almost) uniform.
        var hot = Sampler(parameters: GenerationParameters(temperature: 1e30, topK: 0, topP: 1, minP: 0, seed: 2))
        #expect(Set(SamplingFixtures.draws(&hot, logits, count: 400)) == [0, 1, 2, 3, 4])
        let probabilities = hot.candidates(for: logits).map(\.probability)
        #expect(probabilities.allSatisfy { abs($0 - 0.2) < 1e-5 })
    }

    @Test("a one-token vocabulary")
    func oneToken() {
        var sampler = Sampler(parameters: GenerationParameters(seed: 1))
        var logits: [Float] = [-4]
        #expect(sampler.sample(logits: &logits, history: [0, 0]) == 0)
    }

    @Test("the buffer overload draws the same tokens")
    func bufferOverload() {
        let logits = SamplingFixtures.logits(count: 1000, seed: 12, scale: 2)
        var a = Sampler(parameters: GenerationParameters(seed: 3))
        var b = Sampler(parameters: GenerationParameters(seed: 3))
        for _ in 0..<50 {
            var scratchA = logits
            var scratchB = logits
            let tokenA = a.sample(logits: &scratchA, history: [1, 2])
            let tokenB = scratchB.withUnsafeMutableBufferPointer { b.sample(logits: $0, history: [1, 2]) }
            #expect(tokenA == tokenB)
        }
    }
}
