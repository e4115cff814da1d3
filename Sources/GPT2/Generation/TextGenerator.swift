import Foundation
import GPT2Kernels

/// A model and its tokenizer: load once, then generate from any number of tasks at once.
///
/// ```swift
/// let generator = try TextGenerator(directory: URL(fileURLWithPath: "Models/sales-demo"))
/// let result = try await generator.generate(prompt: "Customer: ...\nPitch:", parameters: .greedy)
/// print(result.text)
///
/// for try await event in generator.stream(prompt: prompt) {
///     if case .token(let token) = event { print(token.text, terminator: "") }
/// }
/// ```
///
/// Each generation has its own ``KVCache`` and ``Sampler``; the model and tokenizer are immutable
/// and shared, so concurrent generations do not interfere.
public final class TextGenerator: Sendable {
    /// The network.
    public let model: GPT2Model
    /// The tokenizer that came with it.
    public let tokenizer: GPT2Tokenizer
    /// Token loops running now (each holds a KV cache), and tokens generated so far: they let tests
    /// see that cancellation ends a loop, and within how many tokens.
    let activeGenerations = LockedCounter()
    let tokensGenerated = LockedCounter()

    /// Wraps an already loaded model and tokenizer.
    public init(model: GPT2Model, tokenizer: GPT2Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Loads the model (``GPT2Model/init(directory:)``) and the tokenizer
    /// (``GPT2Tokenizer/init(directory:)``) from one Hugging Face model directory.
    public convenience init(directory: URL) throws {
        let model = try GPT2Model(directory: directory)
        self.init(model: model, tokenizer: try GPT2Tokenizer(directory: directory))
    }

    /// The prompt as token ids; an empty prompt becomes `<|endoftext|>`, as GPT-2 was trained to start.
    public func promptTokens(_ prompt: String) -> [Int] {
        let ids = tokenizer.encode(prompt)
        return ids.isEmpty ? [tokenizer.endOfTextID] : ids
    }

    /// Generates a continuation of `prompt` and returns it whole. If the calling task is
    /// cancelled, the token loop stops before its next token and the result holds what was
    /// generated, with stop reason ``StopReason/cancelled`` and the timings so far.
    public func generate(prompt: String, parameters: GenerationParameters = GenerationParameters()) async throws -> GenerationResult {
        try await generate(promptTokenIDs: promptTokens(prompt), parameters: parameters)
    }

    /// Generates a continuation of a prompt given as token ids and returns it whole.
    public func generate(promptTokenIDs: [Int], parameters: GenerationParameters = GenerationParameters()) async throws -> GenerationResult {
        var result = GenerationResult(promptTokenIDs: promptTokenIDs)
        try await run(promptTokenIDs: promptTokenIDs, parameters: parameters) { result.append($0) }
        return result
    }

    /// Streams a continuation of `prompt`: one ``GenerationEvent/token(_:)`` per generated token,
    /// then ``GenerationEvent/finished(_:)``.
    ///
    /// Cancelling the task that iterates the stream (or dropping the stream) stops the token loop,
    /// and the stream then ends without ``GenerationEvent/finished(_:)``: tokens already produced
    /// may still arrive, then iteration ends without an error. A ``GenerationResult`` built from
    /// such a stream keeps its initial stop reason, ``StopReason/cancelled``, and zero timings;
    /// a consumer that wants timings for a cancelled stream measures them as the events arrive.
    public func stream(prompt: String, parameters: GenerationParameters = GenerationParameters()) -> AsyncThrowingStream<GenerationEvent, Error> {
        stream(promptTokenIDs: promptTokens(prompt), parameters: parameters)
    }

    /// Streams a continuation of a prompt given as token ids; see ``stream(prompt:parameters:)``
    /// for the events and for what cancellation does.
    public func stream(promptTokenIDs: [Int], parameters: GenerationParameters = GenerationParameters()) -> AsyncThrowingStream<GenerationEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self, throwing: Error.self)
        let task = Task {
            do {
                try await run(promptTokenIDs: promptTokenIDs, parameters: parameters) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Log-probability of each prompt token given the ones before it (`nil` for the first):
    /// the model's score of a text, whose negative mean is the log of its perplexity.
    public func promptLogprobs(_ promptTokenIDs: [Int]) throws -> [Double?] {
        guard !promptTokenIDs.isEmpty else { return [] }
        guard promptTokenIDs.count <= model.config.contextLength else {
            throw GenerationError.promptTooLong(tokens: promptTokenIDs.count, contextLength: model.config.contextLength)
        }
        let logits = try model.forward(promptTokenIDs, cache: model.makeCache(capacity: promptTokenIDs.count), logits: .all)
        return [nil] + (1..<promptTokenIDs.count).map { position in
            logits.values.withUnsafeBufferPointer { all in
                logSoftmax(all.baseAddress! + (position - 1) * logits.vocabularySize,
                           count: logits.vocabularySize, at: promptTokenIDs[position])
            }
        }
    }

    /// The token loop shared by every public entry point. `emit` receives every event in order.
    private func run(promptTokenIDs prompt: [Int], parameters: GenerationParameters,
                     emit: (GenerationEvent) -> Void) async throws {
        try parameters.validate()
        activeGenerations.add(1)
        defer { activeGenerations.add(-1) }
        let contextLength = model.config.contextLength
        guard prompt.count <= contextLength else {
            throw GenerationError.promptTooLong(tokens: prompt.count, contextLength: contextLength)
        }
        let clock = ContinuousClock()
        let start = clock.now
        var history = prompt
        var stopReason = StopReason.maxTokens

        if parameters.maxNewTokens > 0 && prompt.count < contextLength {
            // room for the prompt and the tokens that can still come; written so that no
            // maxNewTokens (up to Int.max) overflows
            let cache = model.makeCache(capacity: prompt.count + min(parameters.maxNewTokens, contextLength - prompt.count))
            var sampler = Sampler(parameters: parameters)
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var filter = StopSequenceFilter(stopSequences: parameters.stopSequences)

            // the prompt, in one forward pass; its last row predicts the first new token
            var logits = try model.forward(prompt, cache: cache).values
            var scratch = logits
            let promptDone = clock.now

            while true {
                if Task.isCancelled { stopReason = .cancelled; break }

                // sample from a copy: the sampler rewrites its input, the log-prob needs the raw logits
                _ = scratch.withUnsafeMutableBufferPointer { $0.update(fromContentsOf: logits) }
                let id = sampler.sample(logits: &scratch, history: history)
                let logprob = logits.withUnsafeBufferPointer { logSoftmax($0.baseAddress!, count: $0.count, at: id) }
                history.append(id)
                tokensGenerated.add(1)

                var text: String
                var reason: StopReason?
                if id == tokenizer.endOfTextID && parameters.stopAtEndOfText {
                    (text, reason) = ("", .endOfText)
                } else {
                    let (visible, stopped) = filter.append(decoder.append(id))
                    (text, reason) = (visible, stopped ? .stopSequence : nil)
                }
                if reason == nil && history.count - prompt.count == parameters.maxNewTokens { reason = .maxTokens }
                if reason == nil && history.count == contextLength { reason = .contextFull }
                if let ending = reason, ending != .stopSequence {
                    // the last token: release the bytes and text still held back
                    let (visible, stopped) = filter.append(decoder.finish())
                    text += visible + (stopped ? "" : filter.finish())
                    if stopped { reason = .stopSequence }
                }
                emit(.token(GeneratedToken(id: id, logprob: logprob, text: text)))
                if let reason { stopReason = reason; break }

                logits = try model.forward([id], cache: cache).values
                await Task.yield()  // let other tasks run, and cancellation arrive, between tokens
            }
            emit(.finished(summary(prompt: prompt.count, generated: history.count - prompt.count, stopReason: stopReason,
                                   promptSeconds: seconds(promptDone - start), generationSeconds: seconds(clock.now - promptDone))))
        } else {
            if parameters.maxNewTokens > 0 { stopReason = .contextFull }
            emit(.finished(summary(prompt: prompt.count, generated: 0, stopReason: stopReason, promptSeconds: 0, generationSeconds: 0)))
        }
    }

    private func summary(prompt: Int, generated: Int, stopReason: StopReason,
                         promptSeconds: Double, generationSeconds: Double) -> GenerationSummary {
        GenerationSummary(promptTokenCount: prompt, generatedTokenCount: generated, stopReason: stopReason,
                          timings: GenerationTimings(
                              promptSeconds: promptSeconds, generationSeconds: generationSeconds,
                              promptTokensPerSecond: promptSeconds > 0 ? Double(prompt) / promptSeconds : 0,
                              generationTokensPerSecond: generationSeconds > 0 ? Double(generated) / generationSeconds : 0))
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
