import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Continuous batching: a generation's tokens, and their log-probabilities to the last bit, do
/// not depend on the company it keeps. Each
/// request below runs alone, then among 1–15 others with other prompts, lengths and parameters
/// that join before it, with it, and while it runs, and leave at other steps.
@Suite struct BatchingTests {
    static let demo = Result { try TextGenerator(directory: TestPaths.salesDemo) }

    /// Another request of a mix: its own prompt, length and sampling.
    static func companion(_ i: Int, tokenizer: GPT2Tokenizer) -> (prompt: [Int], parameters: GenerationParameters) {
        let customers = ["Olivia Brown, 34, nurse", "Liam Chen, 52, architect", "张伟，28岁，男，工程师", "Ava Patel, 41, teacher"]
        let prompt = tokenizer.encode("Customer: \(customers[i % customers.count]). Interests: item \(i).\nPitch:")
        let parameters = i % 3 == 0 ? GenerationParameters(maxNewTokens: 5 + 7 * i, temperature: 0)
            : GenerationParameters(maxNewTokens: 3 + 11 * i, temperature: 0.9, topK: 20 + i, repetitionPenalty: 1.1,
                                   seed: UInt64(1000 + i), stopAtEndOfText: i % 2 == 0)
        return (prompt, parameters)
    }

    /// Runs `target` among `company` companions on a fresh generator (batch size 16): a third of
    /// them start first (the target joins a running batch), a third with it, and the rest once
    /// it has started; returns the target's tokens and their log-probabilities.
    static func inCompany(_ target: (prompt: [Int], parameters: GenerationParameters), company: Int,
                          model: GPT2Model, tokenizer: GPT2Tokenizer) async throws -> Output {
        let generator = TextGenerator(model: model, tokenizer: tokenizer, maxBatchSize: 16)
        return try await withThrowingTaskGroup(of: Output?.self) { group in
            func start(_ i: Int) {
                let other = companion(i, tokenizer: tokenizer)
                group.addTask { _ = try await generator.generate(promptTokenIDs: other.prompt, parameters: other.parameters); return nil }
            }
            let (before, with) = (company / 3, company / 3)
            for i in 0..<before { start(i) }
            if before > 0 { try await waitUntil("the first companions' tokens") { generator.tokensGenerated.value >= 2 } }
            for i in before..<(before + with) { start(i) }
            group.addTask { Output(try await generator.generate(promptTokenIDs: target.prompt, parameters: target.parameters)) }
            let seen = generator.tokensGenerated.value
            while generator.tokensGenerated.value < seen + 3 && generator.activeGenerations.value > 0 {
                try await Task.sleep(for: .milliseconds(1))
            }
            for i in (before + with)..<company { start(i) }
            var output = Output(tokens: [], logprobs: [])
            for try await result in group { if let result { output = result } }
            return output
        }
    }

    /// What is compared: the tokens, and their log-probabilities bit for bit (a change in the last
    /// bit of a logit shows there even where it moves no token).
    struct Output: Equatable, Sendable {
        let tokens: [Int]
        let logprobs: [UInt64]
        init(tokens: [Int], logprobs: [UInt64]) { (self.tokens, self.logprobs) = (tokens, logprobs) }
        init(_ result: GenerationResult) { self.init(tokens: result.tokenIDs, logprobs: result.logprobs.map(\.bitPattern)) }
    }

    @Test("greedy and seeded generations give the same tokens alone and among 1–15 others", arguments: [1, 2, 5, 9, 15])
    func companyDoesNotMatter(company: Int) async throws {
        let demo = try Self.demo.get()
        let prompt = demo.promptTokens("Customer: Olivia Brown, 34, nurse. Interests: yoga, travel. Recently viewed high-end cameras.\nProduct: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:")
        let targets = [
            (prompt, GenerationParameters(maxNewTokens: 60, temperature: 0)),
            (prompt, GenerationParameters(maxNewTokens: 60, temperature: 0.7, seed: 42)),
            (Array(prompt.prefix(9)), GenerationParameters(maxNewTokens: 40, temperature: 1.2, topP: 0.9, seed: 7, stopAtEndOfText: false)),
        ]
        for target in targets {
            let alone = Output(try await demo.generate(promptTokenIDs: target.0, parameters: target.1))
            #expect(!alone.tokens.isEmpty)
            let together = try await Self.inCompany(target, company: company, model: demo.model, tokenizer: demo.tokenizer)
            #expect(together == alone, "\(target.1) among \(company) others")
        }
    }

    /// A prompt longer than a prefill chunk, so that it is read in several steps while others decode.
    @Test("a prompt read in several chunks among others gives the tokens it gives alone")
    func longPromptInChunks() async throws {
        let demo = try Self.demo.get()
        let text = String(repeating: "Customer: Olivia Brown, 34, nurse. Interests: yoga, travel. ", count: 20) + "\nPitch:"
        let prompt = demo.promptTokens(text)
        #expect(prompt.count > 2 * TextGenerator.prefillChunk)
        let parameters = GenerationParameters(maxNewTokens: 30, temperature: 0)
        let alone = Output(try await demo.generate(promptTokenIDs: prompt, parameters: parameters))
        for company in [3, 10] {
            let together = try await Self.inCompany((prompt, parameters), company: company, model: demo.model, tokenizer: demo.tokenizer)
            #expect(together == alone, "among \(company) others")
        }
    }

    /// The Hugging Face reference continuations of the fixture models, reproduced through the
    /// scheduler among other requests.
    @Test("reference greedy continuations hold among other requests", arguments: ["tiny-gpt2-f32", "small-gpt2-f16"])
    func referenceInCompany(name: String) async throws {
        let directory = TestPaths.reference.appendingPathComponent(name)
        let model = try GPT2Model(directory: directory)
        let tokenizer = try Self.demo.get().tokenizer
        for example in try ReferenceFile.load(name).cases {
            let parameters = GenerationParameters(maxNewTokens: 20, temperature: 0, stopAtEndOfText: false)
            let together = try await Self.inCompany((example.input_ids, parameters), company: 6, model: model, tokenizer: tokenizer)
            #expect(together.tokens == example.greedy_20)
        }
    }

    @Test("a full batch makes later requests wait, and a cancelled waiting request leaves at once")
    func waitingAndCancelled() async throws {
        let demo = try Self.demo.get()
        let generator = TextGenerator(model: demo.model, tokenizer: demo.tokenizer, maxBatchSize: 2)
        #expect(generator.maxBatchSize == 2)
        let long = GenerationParameters(maxNewTokens: 100_000, temperature: 0, stopAtEndOfText: false)
        // 50 ms a token: the two runners would take most of a minute to fill the context, however
        // late this task gets a core on a loaded machine; they end when cancelled
        struct Pace: LogitProcessor {
            func process(_ logits: inout [Float], history: [Int]) { usleep(50_000) }
        }
        let runners = (0..<2).map { _ in Task { try await generator.generate(prompt: "Customer:", parameters: long, processors: [Pace()]) } }
        try await waitUntil("both runners in the batch") { generator.activeGenerations.value == 2 }
        let waiter = Task { try await generator.generate(prompt: "Customer:", parameters: long) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(generator.activeGenerations.value == 2)  // the third waits
        waiter.cancel()
        let cancelled = try await waiter.value
        #expect(cancelled.summary.stopReason == .cancelled && cancelled.tokenIDs.isEmpty)
        for runner in runners { runner.cancel() }
        for runner in runners { #expect(try await runner.value.summary.stopReason == .cancelled) }
        try await waitUntil("the batch to empty") { generator.activeGenerations.value == 0 }
    }

    @Test("an error fails its own request alone")
    func errorsStayAlone() async throws {
        let demo = try Self.demo.get()
        let generator = TextGenerator(model: demo.model, tokenizer: demo.tokenizer)
        let good = Task { try await generator.generate(prompt: "Customer:", parameters: GenerationParameters(maxNewTokens: 30, temperature: 0)) }
        await #expect(throws: GenerationError.promptTooLong(tokens: 600, contextLength: 512)) {
            _ = try await generator.generate(promptTokenIDs: Array(repeating: 13, count: 600))
        }
        await #expect(throws: GenerationParametersError.self) {
            _ = try await generator.generate(prompt: "x", parameters: GenerationParameters(topP: 2))
        }
        let result = try await good.value
        #expect(result.tokenIDs.count == 30 || result.summary.stopReason == .endOfText)
        #expect(result.tokenIDs == (try await demo.generate(prompt: "Customer:", parameters: GenerationParameters(maxNewTokens: 30, temperature: 0))).tokenIDs)
    }
}
