import Foundation
import Testing
import GPT2Kernels
import TestSupport
@testable import GPT2

/// The generation loop on the trained demo model.
@Suite struct TextGeneratorTests {
    static let generator = Result { try TextGenerator(directory: TestPaths.salesDemo) }
    static var demo: TextGenerator { get throws { try generator.get() } }

    @Test("greedy generation reproduces the reference pitches, ending at <|endoftext|>")
    func greedyMatchesReference() async throws {
        let generator = try Self.demo
        for example in try SalesDemoCase.loadAll() {
            #expect(generator.promptTokens(example.prompt) == example.prompt_ids)
            let result = try await generator.generate(prompt: example.prompt, parameters: .greedy)
            #expect(result.tokenIDs == example.greedy_ids + [50256])
            #expect(result.text == example.greedy_text)
            #expect(result.summary.stopReason == .endOfText)
            #expect(result.summary.generatedTokenCount == example.greedy_ids.count + 1)
            #expect(result.logprobs.count == result.tokenIDs.count)
            #expect(result.logprobs.allSatisfy { $0 <= 0 && $0 > -30 })
        }
    }

    @Test("the stream's text and tokens add up to the whole result")
    func streamEqualsGenerate() async throws {
        let generator = try Self.demo
        let prompt = try SalesDemoCase.loadAll()[1].prompt
        let parameters = GenerationParameters(maxNewTokens: 60, seed: 42)
        let whole = try await generator.generate(prompt: prompt, parameters: parameters)
        var streamed = GenerationResult(promptTokenIDs: whole.promptTokenIDs)
        var finishedEvents = 0
        for try await event in generator.stream(prompt: prompt, parameters: parameters) {
            #expect(finishedEvents == 0, "no event after .finished")
            if case .finished = event { finishedEvents += 1 }
            if case .token(let token) = event {
                // never a broken character in the stream
                #expect(!token.text.unicodeScalars.contains("\u{FFFD}"))
            }
            streamed.append(event)
        }
        #expect(finishedEvents == 1)
        #expect(streamed.tokenIDs == whole.tokenIDs)
        #expect(streamed.text == whole.text)
        #expect(streamed.text == generator.tokenizer.decode(whole.tokenIDs.filter { $0 != 50256 }))
    }

    @Test("log-probabilities are those of the raw model distribution")
    func logprobsAreRawModelLogprobs() async throws {
        let generator = try Self.demo
        let prompt = generator.promptTokens("Customer: Anna Lee, 41, teacher.")
        let result = try await generator.generate(promptTokenIDs: prompt,
                                                  parameters: GenerationParameters(maxNewTokens: 5, temperature: 1.5, seed: 3))
        // Score prompt + generated text in one pass: each generated token's log-prob must agree.
        let scored = try generator.promptLogprobs(prompt + result.tokenIDs)
        for (i, logprob) in result.logprobs.enumerated() {
            #expect(abs(logprob - scored[prompt.count + i]!) < 1e-4)
        }
    }

    @Test("a stop string spanning several tokens ends the text before it, and no part of it is emitted")
    func stopStringAcrossTokens() async throws {
        let generator = try Self.demo
        let example = try SalesDemoCase.loadAll()[0]
        let stop = "cameras last week"  // several tokens: " cameras", " last", " week"
        #expect(generator.tokenizer.encode(stop).count >= 3)
        var parameters = GenerationParameters.greedy
        parameters.stopSequences = ["never appears", stop]
        var texts: [String] = []
        var summary: GenerationSummary?
        for try await event in generator.stream(prompt: example.prompt, parameters: parameters) {
            switch event {
            case .token(let token): texts.append(token.text)
            case .finished(let finished): summary = finished
            }
        }
        let expected = String(example.greedy_text[..<example.greedy_text.range(of: stop)!.lowerBound])
        #expect(texts.joined() == expected)
        #expect(summary?.stopReason == .stopSequence)
        // the partial stop text was held back, not shown and then retracted
        var shown = ""
        for text in texts {
            shown += text
            #expect(expected.hasPrefix(shown))
        }
    }

    @Test("a stop string inside one token's text ends the text there")
    func stopStringInsideToken() async throws {
        let generator = try Self.demo
        let example = try SalesDemoCase.loadAll()[0]
        var parameters = GenerationParameters.greedy
        parameters.stopSequences = ["livia"]
        let result = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(result.text == " Hi O")
        #expect(result.summary.stopReason == .stopSequence)
    }

    @Test("a generation that ends inside a character leaves its bytes out of the text, not U+FFFD")
    func endInsideCharacter() async throws {
        let generator = try Self.demo
        let example = try SalesDemoCase.loadAll().first { $0.prompt.contains("客户") }!
        var endedInsideCharacter = 0
        for maxTokens in 1...16 {
            var parameters = GenerationParameters.greedy
            parameters.maxNewTokens = maxTokens
            let result = try await generator.generate(prompt: example.prompt, parameters: parameters)
            let bytes = result.tokenIDs.flatMap { generator.tokenizer.tokenBytes($0) }
            let decodedIDs = generator.tokenizer.decode(result.tokenIDs)
            if decodedIDs.hasSuffix("\u{FFFD}") { endedInsideCharacter += 1 }
            #expect(!result.text.unicodeScalars.contains("\u{FFFD}"), "max \(maxTokens): \(result.text)")
            // the text is the ids' bytes up to the last complete character
            #expect(Array(result.text.utf8) == Array(bytes.prefix(result.text.utf8.count)))
            #expect(bytes.count - result.text.utf8.count < 4)
        }
        // Chinese characters take two or three byte-level tokens: some lengths must end inside one
        #expect(endedInsideCharacter > 0)
    }

    @Test("topLogprobs: the most likely tokens of each step, most likely first, on the raw distribution")
    func topLogprobs() async throws {
        let generator = try Self.demo
        let prompt = generator.promptTokens("Customer: Anna Lee, 41, teacher.")
        var parameters = GenerationParameters(maxNewTokens: 6, temperature: 1.5, seed: 9)
        parameters.topLogprobs = 4
        let result = try await generator.generate(promptTokenIDs: prompt, parameters: parameters)
        #expect(result.topLogprobs.count == 6)
        var context = prompt
        for (step, top) in result.topLogprobs.enumerated() {
            #expect(top.count == 4)
            #expect(zip(top, top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            // each alternative's log-probability, scored in its own pass over context + alternative
            for alternative in top {
                let scored = try generator.promptLogprobs(context + [alternative.id])
                #expect(abs(scored.last!! - alternative.logprob) < 1e-4, "step \(step), id \(alternative.id)")
            }
            // the drawn token, if among them, has its own log-probability
            if let drawn = top.first(where: { $0.id == result.tokenIDs[step] }) {
                #expect(abs(drawn.logprob - result.logprobs[step]) < 1e-9)
            }
            context.append(result.tokenIDs[step])
        }
        #expect(try await generator.generate(promptTokenIDs: prompt, parameters: .greedy).topLogprobs.allSatisfy(\.isEmpty))
    }

    @Test("the same seed gives the same text; another seed another text")
    func seeds() async throws {
        let generator = try Self.demo
        let prompt = try SalesDemoCase.loadAll()[0].prompt
        func run(_ seed: UInt64) async throws -> [Int] {
            try await generator.generate(prompt: prompt, parameters: GenerationParameters(maxNewTokens: 40, temperature: 1.2, topK: 0, topP: 1, minP: 0, seed: seed)).tokenIDs
        }
        let first = try await run(1)
        #expect(try await run(1) == first)
        #expect(try await run(2) != first)
    }

    @Test("max new tokens, ignoring <|endoftext|>, and the context limit")
    func limits() async throws {
        let generator = try Self.demo
        let example = try SalesDemoCase.loadAll()[0]
        var parameters = GenerationParameters.greedy
        parameters.maxNewTokens = 7
        var result = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(result.tokenIDs == Array(example.greedy_ids.prefix(7)))
        #expect(result.summary.stopReason == .maxTokens)

        parameters.maxNewTokens = example.greedy_ids.count + 5
        parameters.stopAtEndOfText = false
        result = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(result.tokenIDs.count == example.greedy_ids.count + 5)
        #expect(result.tokenIDs[example.greedy_ids.count] == 50256)

        // a prompt that leaves room for 3 tokens in the 512-position context
        let context = generator.model.config.contextLength
        let long = Array(repeating: 13, count: context - 3)
        parameters.maxNewTokens = 100
        result = try await generator.generate(promptTokenIDs: long, parameters: parameters)
        #expect(result.tokenIDs.count == 3)
        #expect(result.summary.stopReason == .contextFull)

        parameters.maxNewTokens = 0
        result = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(result.tokenIDs.isEmpty && result.summary.stopReason == .maxTokens)
    }

    @Test("maxNewTokens up to Int.max is allowed: generation ends at <|endoftext|> or the full context")
    func hugeMaxNewTokens() async throws {
        let generator = try Self.demo
        let example = try SalesDemoCase.loadAll()[0]
        var parameters = GenerationParameters.greedy
        parameters.maxNewTokens = .max
        var result = try await generator.generate(prompt: example.prompt, parameters: parameters)
        #expect(result.tokenIDs == example.greedy_ids + [50256])
        #expect(result.summary.stopReason == .endOfText)

        parameters.stopAtEndOfText = false
        let context = generator.model.config.contextLength
        result = try await generator.generate(promptTokenIDs: Array(repeating: 13, count: context - 4), parameters: parameters)
        #expect(result.tokenIDs.count == 4)
        #expect(result.summary.stopReason == .contextFull)
    }

    @Test("a prompt longer than the context is an error, not a silent truncation")
    func promptTooLong() async throws {
        let generator = try Self.demo
        let context = generator.model.config.contextLength
        await #expect(throws: GenerationError.promptTooLong(tokens: context + 1, contextLength: context)) {
            _ = try await generator.generate(promptTokenIDs: Array(repeating: 13, count: context + 1))
        }
    }

    @Test("an empty prompt starts from <|endoftext|>")
    func emptyPrompt() async throws {
        let generator = try Self.demo
        #expect(generator.promptTokens("") == [50256])
        let result = try await generator.generate(prompt: "", parameters: GenerationParameters(maxNewTokens: 5, seed: 1))
        #expect(result.promptTokenIDs == [50256])
        #expect(result.tokenIDs.count == 5 || result.summary.stopReason == .endOfText)
    }

    @Test("invalid parameters are rejected before any work")
    func invalidParameters() async throws {
        let generator = try Self.demo
        await #expect(throws: GenerationParametersError.self) {
            _ = try await generator.generate(prompt: "x", parameters: GenerationParameters(topP: 0))
        }
    }

    /// Holds the token loop (on the scheduler's own thread) before its fourth token until released,
    /// so that the test cancels a generation that is certainly still running.
    struct HoldBeforeFourthToken: LogitProcessor {
        let promptCount: Int
        let holding: DispatchSemaphore
        let release: DispatchSemaphore
        func process(_ logits: inout [Float], history: [Int]) {
            guard history.count == promptCount + 3 else { return }
            holding.signal()
            release.wait()
        }
    }

    @Test("cancelling the consuming task stops the token loop promptly")
    func cancellation() async throws {
        let generator = try TextGenerator(directory: TestPaths.salesDemo)  // its own, to count its loops alone
        var parameters = GenerationParameters(maxNewTokens: 100_000, seed: 5)
        parameters.stopAtEndOfText = false
        let prompt = generator.promptTokens("Customer:")
        let (holding, release) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let hold = HoldBeforeFourthToken(promptCount: prompt.count, holding: holding, release: release)
        let received = LockedCounter()
        let consumer = Task { () -> Int in
            do {
                for try await event in generator.stream(promptTokenIDs: prompt, parameters: parameters, processors: [hold]) {
                    if case .token = event { received.add(1) }
                }
            } catch {}
            return received.value
        }
        guard await signalled(holding) else {
            consumer.cancel()
            Issue.record("the generation never reached its fourth token")
            return
        }
        #expect(generator.activeGenerations.value == 1)
        #expect(generator.tokensGenerated.value == 3)
        let cancelledAt = ContinuousClock.now
        consumer.cancel()
        let tokens = await consumer.value  // ends without the loop's help: it is still held
        release.signal()
        // the loop itself ends (and frees its cache), not only the consumer; promptness is counted
        // in tokens, not seconds, so a slow (sanitized, loaded) machine cannot fail it
        while generator.activeGenerations.value > 0 && ContinuousClock.now - cancelledAt < .seconds(120) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(generator.activeGenerations.value == 0)
        // the step that was held may finish its token; no step starts after it
        #expect(generator.tokensGenerated.value <= 4, "the loop went on after cancellation")
        #expect(tokens <= 3)
    }

    @Test("a stream whose consuming task is cancelled ends, without an error and without .finished")
    func cancelledStreamEndsWithoutFinished() async throws {
        let generator = try Self.demo
        var parameters = GenerationParameters(maxNewTokens: 100_000, seed: 5)
        parameters.stopAtEndOfText = false
        let consumer = Task { () throws -> (result: GenerationResult, finishedEvents: Int) in
            var result = GenerationResult(promptTokenIDs: generator.promptTokens("Customer:"))
            var finishedEvents = 0
            for try await event in generator.stream(promptTokenIDs: result.promptTokenIDs, parameters: parameters) {
                if case .finished = event { finishedEvents += 1 }
                result.append(event)
                // the task cancels itself after 3 tokens and keeps iterating
                if result.tokenIDs.count == 3 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            return (result, finishedEvents)
        }
        let (result, finishedEvents) = try await consumer.value
        #expect(finishedEvents == 0)
        #expect(result.tokenIDs.count >= 3 && result.tokenIDs.count < 100)
        #expect(result.summary.stopReason == .cancelled)
        #expect(result.summary.generatedTokenCount == result.tokenIDs.count)
        #expect(result.summary.timings.generationSeconds == 0, "no timings without .finished")
    }

    /// The first token comes from the prompt's forward pass, so it counts in the prompt's time;
    /// the generation rate is over the tokens after it (the CLI printed 2861 tok/s for one token).
    @Test("the generation rate counts the tokens after the first, one forward pass each", arguments: [1, 2, 12])
    func generationRate(tokens: Int) async throws {
        let generator = try Self.demo
        let result = try await generator.generate(prompt: "Customer:", parameters: GenerationParameters(
            maxNewTokens: tokens, temperature: 0, stopAtEndOfText: false))
        let timings = result.summary.timings
        #expect(result.summary.generatedTokenCount == tokens)
        #expect(timings.promptSeconds > 0)
        if tokens == 1 {
            #expect(timings.generationTokensPerSecond == 0)
        } else {
            #expect(timings.generationSeconds > 0)
            #expect(abs(timings.generationTokensPerSecond * timings.generationSeconds - Double(tokens - 1)) < 1e-9 * Double(tokens))
        }
    }

    @Test("generate from a cancelled task returns what it did, stopped as cancelled, with its timings")
    func generateInCancelledTask() async throws {
        let generator = try Self.demo
        // cancelled before it starts: nothing done
        let unstarted = try await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await generator.generate(prompt: "Customer:", parameters: GenerationParameters(maxNewTokens: 50, seed: 1))
        }.value
        #expect(unstarted.summary.stopReason == .cancelled)
        #expect(unstarted.tokenIDs.isEmpty && unstarted.summary.timings.promptSeconds == 0)
        // cancelled while it generates: the tokens so far, and the timings of the work done (on a
        // generator of its own, whose token count no other test moves)
        let own = TextGenerator(model: generator.model, tokenizer: generator.tokenizer)
        let task = Task {
            try await own.generate(prompt: "Customer:", parameters: GenerationParameters(maxNewTokens: 400, seed: 1,
                                                                                               stopAtEndOfText: false))
        }
        try await waitUntil("three tokens") { own.tokensGenerated.value >= 3 }
        task.cancel()
        let result = try await task.value
        #expect(result.summary.stopReason == .cancelled)
        #expect(result.tokenIDs.count >= 3 && result.tokenIDs.count < 400)
        #expect(result.summary.generatedTokenCount == result.tokenIDs.count)
        #expect(result.summary.timings.promptSeconds > 0 && result.summary.timings.promptTokensPerSecond > 0)
        #expect(result.summary.timings.generationSeconds > 0)
    }

    @Test("16 tasks generating at once for several rounds give the texts they give one by one")
    func concurrentEqualsSequential() async throws {
        let generator = try Self.demo
        let prompts = try SalesDemoCase.loadAll().map(\.prompt)
        let rounds = 3
        // task i, round r: half the tasks greedy, half seeded sampling; prompts alternate languages
        func job(_ task: Int, _ round: Int) -> (prompt: String, parameters: GenerationParameters) {
            let parameters = task % 2 == 0
                ? GenerationParameters(maxNewTokens: 16, temperature: 0)
                : GenerationParameters(maxNewTokens: 16, temperature: 1, seed: UInt64(100 * task + round))
            return (prompts[(task + round) % 2], parameters)
        }
        var sequential: [[[Int]]] = []
        for task in 0..<16 {
            var results: [[Int]] = []
            for round in 0..<rounds {
                let (prompt, parameters) = job(task, round)
                results.append(try await generator.generate(prompt: prompt, parameters: parameters).tokenIDs)
            }
            sequential.append(results)
        }
        let concurrent = try await withThrowingTaskGroup(of: (Int, [[Int]]).self) { group in
            for task in 0..<16 {
                group.addTask {
                    var results: [[Int]] = []
                    for round in 0..<rounds {
                        let (prompt, parameters) = job(task, round)
                        results.append(try await generator.generate(prompt: prompt, parameters: parameters).tokenIDs)
                    }
                    return (task, results)
                }
            }
            var all = [[[Int]]](repeating: [], count: 16)
            for try await (task, results) in group { all[task] = results }
            return all
        }
        #expect(concurrent == sequential)
        #expect(Set(sequential.flatMap { $0 }).count > 2, "the jobs should not all produce the same text")
    }
}
