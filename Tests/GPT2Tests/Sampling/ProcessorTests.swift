import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Each built-in processor alone, logit bias, banned strings, and your own processors through the
/// public API, on synthetic logits and on the demo model.
@Suite("Sampling processors")
struct SamplingProcessorTests {
    static let generator = Result { try TextGenerator(directory: TestPaths.salesDemo) }
    static var demo: TextGenerator { get throws { try generator.get() } }
    /// The Olivia Brown prompt; its greedy pitch names her and cameras (see sales-demo-greedy.json).
    static var olivia: SalesDemoCase { get throws { try SalesDemoCase.loadAll()[0] } }

    func processed(_ logits: [Float], _ processor: some LogitProcessor, history: [Int] = []) -> [Float] {
        var processor = processor
        var values = logits
        processor.process(&values, history: history)
        return values
    }

    func kept(_ logits: [Float]) -> [Int] {
        logits.indices.filter { logits[$0] > -.infinity }
    }

    // MARK: - Each processor alone

    @Test("logit bias adds to the chosen ids and ignores ids outside the logits")
    func logitBiasAlone() {
        let logits: [Float] = [1, 2, 3, 4]
        #expect(processed(logits, LogitBiasProcessor([0: 10, 2: -0.5, 4: 7, -1: 7])) == [11, 2, 2.5, 4])
        #expect(processed(logits, LogitBiasProcessor([1: -.infinity])) == [1, -.infinity, 3, 4])
        #expect(processed(logits, LogitBiasProcessor([:])) == logits)
    }

    @Test("temperature divides the logits (shifted by the maximum) by T, once")
    func temperatureAlone() {
        let logits: [Float] = [1, -2, 4, -.infinity, 0.5]
        #expect(processed(logits, TemperatureProcessor(2)) == [-1.5, -3, 0, -.infinity, -1.75])
        #expect(processed(logits, TemperatureProcessor(0.5)) == [-6, -12, 0, -.infinity, -7])
        // 0, negative and NaN leave the logits alone (the sampler goes greedy instead).
        for t: Float in [0, -1, .nan] { #expect(processed(logits, TemperatureProcessor(t)) == logits) }
        // A tiny T does not overflow: the maximum stays 0, the others go far below.
        #expect(processed([1, 3, -1], TemperatureProcessor(1e-30)) == [-2e30, 0, -4e30])
        #expect(processed([1e30, 3e30], TemperatureProcessor(1e-30)) == [-.infinity, 0])
    }

    @Test("top-k keeps the k largest, lower ids first on ties; 0 and k >= n are off")
    func topKAlone() {
        let logits: [Float] = [1, 5, 3, 5, -2, 3]
        #expect(kept(processed(logits, TopKProcessor(1))) == [1])
        #expect(kept(processed(logits, TopKProcessor(3))) == [1, 2, 3])
        #expect(kept(processed(logits, TopKProcessor(4))) == [1, 2, 3, 5])
        #expect(processed(logits, TopKProcessor(3))[2] == 3) // survivors keep their logits
        for k in [0, -1, 6, 100] { #expect(processed(logits, TopKProcessor(k)) == logits) }
    }

    @Test("top-p keeps the shortest most-probable prefix reaching p; p <= 0 keeps one token; p >= 1 and NaN are off")
    func topPAlone() {
        // Probabilities 0.2, 0.4, 0.1, 0.3 for ids 0...3.
        let logits = [0.2, 0.4, 0.1, 0.3].map { Float(log($0)) }
        #expect(kept(processed(logits, TopPProcessor(0.65))) == [1, 3])
        #expect(kept(processed(logits, TopPProcessor(0.75))) == [0, 1, 3])
        #expect(kept(processed(logits, TopPProcessor(0.3))) == [1])
        #expect(kept(processed(logits, TopPProcessor(0))) == [1])
        #expect(kept(processed(logits, TopPProcessor(-3))) == [1])
        for p: Float in [1, 2, .nan] { #expect(processed(logits, TopPProcessor(p)) == logits) }
        // Equal probabilities: the lower ids first.
        #expect(kept(processed([0, 0, 0, 0], TopPProcessor(0.5))) == [0, 1])
    }

    @Test("min-p keeps p >= minP · p_max; minP > 1 keeps the lowest-id maximum; <= 0 and NaN are off")
    func minPAlone() {
        // Weights relative to the maximum: 1, e^-1 = 0.37, e^-2 = 0.14, e^-3 = 0.05.
        let logits: [Float] = [3, 2, 1, 0]
        #expect(kept(processed(logits, MinPProcessor(0.2))) == [0, 1])
        #expect(kept(processed(logits, MinPProcessor(0.1))) == [0, 1, 2])
        #expect(kept(processed([1, 3, 3, 0], MinPProcessor(1))) == [1, 2])
        #expect(kept(processed([1, 3, 3, 0], MinPProcessor(1.5))) == [1])
        for p: Float in [0, -1, .nan] { #expect(processed(logits, MinPProcessor(p)) == logits) }
    }

    @Test("banned strings: tokens containing the string, and tokens finishing it after the text so far")
    func bannedStringsAlone() throws {
        let tokenizer = try Self.demo.tokenizer
        let camera = 4676, bareCamera = 25695, cameras = 9073, capitalCamera = 20432, era = 8607, me = 1326
        #expect(tokenizer.tokenString(camera) == "Ġcamera" && tokenizer.tokenString(era) == "era")
        let processor = BannedStringsProcessor(["camera", "Acme"], tokenizer: tokenizer)
        let logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
        var values = logits
        processor.process(&values, history: tokenizer.encode("Hello"))
        for id in [camera, bareCamera, cameras] { #expect(values[id] == -.infinity, "\(id)") }
        // Case-sensitive, and a token merely starting the string is allowed.
        for id in [capitalCamera, era, me, 4013 /* " Ac" */] { #expect(values[id] == 0, "\(id)") }
        // Exactly the tokens whose text contains a banned string, found here from the decoded text.
        let containing = (0..<tokenizer.vocabularySize).filter { id in
            let text = String(decoding: tokenizer.tokenBytes(id), as: UTF8.self)
            return id != tokenizer.endOfTextID && (text.contains("camera") || text.contains("Acme"))
        }
        #expect(values.indices.filter { values[$0] == -.infinity } == containing)
        // After " cam", "era" would finish "camera"; after " Ac", "me" would finish "Acme".
        values = logits
        processor.process(&values, history: tokenizer.encode("a new cam"))
        #expect(values[era] == -.infinity && values[me] == 0)
        values = logits
        processor.process(&values, history: tokenizer.encode("Call Ac"))
        #expect(values[me] == -.infinity && values[era] == 0)
        // Across several tokens: "c", "am", "er" then "a".
        values = logits
        processor.process(&values, history: ["c", "am", "er"].map { tokenizer.encode($0)[0] })
        #expect(values[tokenizer.encode("a")[0]] == -.infinity)
        // <|endoftext|> is never banned, and its text does not count.
        #expect(BannedStringsProcessor(["end"], tokenizer: tokenizer).containsBan(tokenizer.endOfTextID) == false)
    }

    // MARK: - Logit bias (OpenAI semantics)

    @Test("logit bias +100 forces a token, -100 bans it, sampled or greedy")
    func logitBiasForcesAndBans() {
        let logits = SamplingFixtures.logits(count: 1000, seed: 31, scale: 3)
        let best = Sampler.argmax(logits)
        let unlikely = logits.indices.min { logits[$0] < logits[$1] }!
        for base in [GenerationParameters(seed: 1), GenerationParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 2), .greedy] {
            var forced = base
            forced.logitBias = [unlikely: 100]
            var sampler = Sampler(parameters: forced)
            #expect(SamplingFixtures.draws(&sampler, logits, count: 200).allSatisfy { $0 == unlikely })
            var banned = base
            banned.logitBias = [best: -100]
            sampler = Sampler(parameters: banned)
            #expect(!SamplingFixtures.draws(&sampler, logits, count: 500).contains(best))
            // Practically, not absolutely: at most e^-60 or so of the probability is left to it.
            #expect(Sampler(parameters: banned).candidates(for: logits).allSatisfy { $0.id != best || $0.probability < 1e-20 })
        }
    }

    @Test("logit bias comes before the penalties and the temperature")
    func logitBiasOrder() {
        // Token 0: biased -1 + 2 = 1, then penalised 1 / 2 = 0.5 (penalised first it would be
        // -1 · 2 + 2 = 0). Token 1 (0.9) wins either way; the processed logits tell the order.
        var sampler = Sampler(parameters: GenerationParameters(temperature: 0, repetitionPenalty: 2, logitBias: [0: 2]))
        var logits: [Float] = [-1, 0.9, 0]
        #expect(sampler.sample(logits: &logits, history: [0]) == 1)
        #expect(logits[0] == 0.5)
    }

    @Test("logit bias is validated: finite biases, ids >= 0, and below the vocabulary size where it is known")
    func logitBiasValidation() async throws {
        #expect(throws: GenerationParametersError(.logitBias, "3:nan", requirement: "biases must be finite")) {
            try GenerationParameters(logitBias: [5: 1, 3: .nan]).validate()
        }
        #expect(throws: GenerationParametersError(.logitBias, "-2:1.0", requirement: "token ids must be >= 0")) {
            try GenerationParameters(logitBias: [-2: 1]).validate()
        }
        try GenerationParameters(logitBias: [50256: -100, 0: 100]).validate(vocabularySize: 50257)
        #expect(throws: GenerationParametersError(.logitBias, "50257:1.0", requirement: "token ids must be in 0..<50257")) {
            try GenerationParameters(logitBias: [50257: 1, 60000: 2]).validate(vocabularySize: 50257)
        }
        let generator = try Self.demo
        await #expect(throws: GenerationParametersError.self) {
            _ = try await generator.generate(prompt: "Hi", parameters: GenerationParameters(logitBias: [50257: 1]))
        }
    }

    @Test("logit bias in a generation: +100 makes every token the chosen one")
    func logitBiasGeneration() async throws {
        let generator = try Self.demo
        let result = try await generator.generate(prompt: try Self.olivia.prompt, parameters: GenerationParameters(
            maxNewTokens: 4, logitBias: [4676: 100], seed: 7))
        #expect(result.tokenIDs == [4676, 4676, 4676, 4676])
    }

    // MARK: - Banned strings on the demo model

    @Test("a banned word never appears in the pitch, greedy or sampled, while it does without the ban",
          arguments: ["camera", "Olivia"])
    func bannedWordOnDemoModel(word: String) async throws {
        // 30 tokens (debug builds generate slowly); the unbanned greedy pitch, which
        // TextGeneratorTests checks that we reproduce, names both within them.
        let generator = try Self.demo
        let example = try Self.olivia
        #expect(generator.tokenizer.decode(Array(example.greedy_ids.prefix(30))).contains(word))
        let banned = try await generator.generate(prompt: example.prompt, parameters: GenerationParameters(
            maxNewTokens: 30, temperature: 0, bannedStrings: [word]))
        #expect(!banned.text.contains(word), "\(banned.text)")
        #expect(banned.tokenIDs.count == 30)
        let sampled = try await generator.generate(prompt: example.prompt, parameters: GenerationParameters(
            maxNewTokens: 30, temperature: 1.2, topK: 0, topP: 1, minP: 0, bannedStrings: [word], seed: 5))
        #expect(!sampled.text.contains(word), "\(sampled.text)")
    }

    @Test("banned strings are validated, and need a tokenizer only when there are some")
    func bannedStringsValidation() throws {
        #expect(throws: GenerationParametersError(.bannedStrings, "\"\"", requirement: "must not be empty")) {
            try GenerationParameters(bannedStrings: ["Acme", ""]).validate()
        }
        try GenerationParameters(bannedStrings: ["Acme"]).validate()
        let tokenizer = try Self.demo.tokenizer
        var sampler = Sampler(parameters: GenerationParameters(temperature: 0, bannedStrings: ["Acme"]), tokenizer: tokenizer)
        var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
        logits[tokenizer.encode("Acme")[0]] = 5 // "Ac"
        logits[1326] = 9 // "me"
        #expect(sampler.sample(logits: &logits, history: tokenizer.encode("Call Ac")) == tokenizer.encode("Acme")[0])
    }

    // MARK: - Your own processors

    /// Forbids one token.
    struct Forbid: LogitProcessor {
        var id: Int
        func process(_ logits: inout [Float], history: [Int]) {
            logits[id] = -.infinity
        }
    }

    /// Forbids a token at the second step only: keeps state across the steps of one generation.
    struct ForbidAtSecondStep: LogitProcessor {
        var id: Int
        var steps = 0
        mutating func process(_ logits: inout [Float], history: [Int]) {
            steps += 1
            if steps == 2 { logits[id] = -.infinity }
        }
    }

    @Test("a processor of yours changes the generation, through generate and stream")
    func customProcessorInGeneration() async throws {
        let generator = try Self.demo
        let example = try Self.olivia
        let parameters = GenerationParameters(maxNewTokens: 8, temperature: 0)
        #expect(Array(example.greedy_ids.prefix(2)) == [15902, 33911]) // " Hi", " Olivia"
        let custom = try await generator.generate(prompt: example.prompt, parameters: parameters, processors: [Forbid(id: 33911)])
        #expect(custom.tokenIDs.first == 15902)
        #expect(!custom.tokenIDs.contains(33911))
        var streamed = GenerationResult(promptTokenIDs: example.prompt_ids)
        for try await event in generator.stream(prompt: example.prompt, parameters: parameters, processors: [Forbid(id: 33911)]) {
            streamed.append(event)
        }
        #expect(streamed.tokenIDs == custom.tokenIDs)
        let fromIDs = try await generator.generate(promptTokenIDs: example.prompt_ids, parameters: parameters, processors: [Forbid(id: 33911)])
        #expect(fromIDs.tokenIDs == custom.tokenIDs)
        // Generations without processors are unaffected.
        let plain = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(plain.tokenIDs == Array(example.greedy_ids.prefix(8)))
    }

    @Test("each generation runs on its own copy of a stateful processor")
    func customProcessorState() async throws {
        let generator = try Self.demo
        let prompt = try Self.olivia.prompt
        let parameters = GenerationParameters(maxNewTokens: 4, temperature: 0)
        let processor = ForbidAtSecondStep(id: 33911)
        let first = try await generator.generate(prompt: prompt, parameters: parameters, processors: [processor])
        let second = try await generator.generate(prompt: prompt, parameters: parameters, processors: [processor])
        #expect(first.tokenIDs == second.tokenIDs)
        #expect(first.tokenIDs.first == 15902 && first.tokenIDs[1] != 33911)
    }

    @Test("a sampler runs your processors after the penalties and before the temperature")
    func customProcessorInSampler() {
        /// Checks what it sees, and forbids token 2.
        struct Probe: LogitProcessor {
            func process(_ logits: inout [Float], history: [Int]) {
                // The penalty (2) has halved token 0's 4 → 2; the temperature has not run yet.
                #expect(logits == [2, 1, 3])
                logits[2] = -.infinity
            }
        }
        var sampler = Sampler(parameters: GenerationParameters(temperature: 0.5, topK: 0, topP: 1, minP: 0, repetitionPenalty: 2, seed: 1),
                              processors: [Probe()])
        let candidates = sampler.candidates(for: [4, 1, 3], history: [0])
        #expect(candidates.map(\.id) == [0, 1])
        // softmax([2, 1] / 0.5): e^2 / (e^2 + 1)
        #expect(abs(Double(candidates[0].probability) - exp(2) / (exp(2) + 1)) < 1e-6)
        var logits: [Float] = [4, 1, 3]
        #expect(sampler.sample(logits: &logits, history: [0]) != 2)
    }
}

extension BannedStringsProcessor {
    /// Whether `id` is banned whatever the text before it.
    fileprivate func containsBan(_ id: Int) -> Bool {
        banned.contains { $0.containing.contains(id) }
    }
}
