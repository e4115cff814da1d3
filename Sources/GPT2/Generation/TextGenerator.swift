import Foundation
import GPT2Kernels
import Synchronization

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
/// All generations of one generator, from any number of tasks, run together as one continuous
/// batch: each step is one forward pass over a new token of every running generation (see
/// <doc:Batching>). Each keeps its own ``KVCache``, ``Sampler`` and random stream, so its tokens are
/// the same whatever else runs beside it.
public final class TextGenerator: Sendable {
    /// The network.
    public let model: GPT2Model
    /// The tokenizer that came with it.
    public let tokenizer: GPT2Tokenizer
    /// Most generations that run at once; more wait, in order of arrival.
    public var maxBatchSize: Int { scheduler.maxBatchSize }
    /// The default ``maxBatchSize``.
    public static let defaultMaxBatchSize = 8
    /// Prompt tokens a step reads at most, for one generation starting (its prompt takes as many
    /// steps as it has chunks); bounds how long a new prompt delays the others' next token.
    static let prefillChunk = 128
    let scheduler: Scheduler

    /// Wraps an already loaded model and tokenizer; up to `maxBatchSize` generations run at once
    /// (at least 1, at most 16: a decode step's rows then go through the row kernels together).
    public init(model: GPT2Model, tokenizer: GPT2Tokenizer, maxBatchSize: Int = TextGenerator.defaultMaxBatchSize) {
        self.model = model
        self.tokenizer = tokenizer
        scheduler = Scheduler(model: model, tokenizer: tokenizer, maxBatchSize: min(max(maxBatchSize, 1), 16),
                              prefillChunk: Self.prefillChunk)
    }

    /// Loads the model (``GPT2Model/init(directory:residency:precision:)``) and the tokenizer
    /// (``GPT2Tokenizer/init(directory:)``) from one Hugging Face model directory, and checks that
    /// they fit each other (``GPT2Model/check(tokenizer:)``).
    public convenience init(directory: URL, maxBatchSize: Int = TextGenerator.defaultMaxBatchSize) throws {
        let model = try GPT2Model(directory: directory)
        let tokenizer = try GPT2Tokenizer(directory: directory)
        try model.check(tokenizer: tokenizer)
        self.init(model: model, tokenizer: tokenizer, maxBatchSize: maxBatchSize)
    }

    /// Generations in the batch now (for the package's tools and tests).
    package var activeSequenceCount: Int { scheduler.activeCount.value }

    /// Generations in the batch now, and tokens generated so far: they let tests see that
    /// cancellation ends a generation, and within how many tokens.
    var activeGenerations: LockedCounter { scheduler.activeCount }
    var tokensGenerated: LockedCounter { scheduler.tokensGenerated }
    package var stepTimes: StepTimes { scheduler.stepTimes }

    /// The prompt as token ids; an empty prompt becomes `<|endoftext|>`, as GPT-2 was trained to start.
    public func promptTokens(_ prompt: String) -> [Int] {
        Self.promptTokens(prompt, tokenizer: tokenizer)
    }

    /// The same rule for a tokenizer alone (before any model is loaded).
    public static func promptTokens(_ prompt: String, tokenizer: GPT2Tokenizer) -> [Int] {
        let ids = tokenizer.encode(prompt)
        return ids.isEmpty ? [tokenizer.endOfTextID] : ids
    }

    /// Checks that a prompt can be run: at least one token, every id in the vocabulary, and no
    /// longer than the model's context (a prompt is never silently truncated).
    ///
    /// - Throws: ``GenerationError`` naming the problem.
    public func checkPrompt(_ promptTokenIDs: [Int]) throws(GenerationError) {
        try Self.checkPrompt(promptTokenIDs, config: model.config)
    }

    static func checkPrompt(_ promptTokenIDs: [Int], config: GPT2Config) throws(GenerationError) {
        guard !promptTokenIDs.isEmpty else { throw .emptyPrompt }
        let vocabularySize = config.vocabularySize, contextLength = config.contextLength
        if let bad = promptTokenIDs.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw .invalidTokenID(bad, vocabularySize: vocabularySize)
        }
        guard promptTokenIDs.count <= contextLength else {
            throw .promptTooLong(tokens: promptTokenIDs.count, contextLength: contextLength)
        }
    }

    /// The parameters a call without any generates with: the library's defaults with the
    /// model's ``GPT2Model/generationDefaults`` (from its `generation_config.json`) applied.
    public var defaultParameters: GenerationParameters { model.defaultParameters }

    /// Generates a continuation of `prompt` and returns it whole, with `parameters`, or
    /// ``defaultParameters`` when they are nil. If the calling task is cancelled, the token loop
    /// stops before its next token and the result holds what was generated, with stop reason
    /// ``StopReason/cancelled`` and the timings so far.
    public func generate(prompt: String, parameters: GenerationParameters? = nil) async throws -> GenerationResult {
        try await generate(promptTokenIDs: promptTokens(prompt), parameters: parameters)
    }

    /// Generates a continuation of a prompt given as token ids and returns it whole.
    public func generate(promptTokenIDs: [Int], parameters: GenerationParameters? = nil) async throws -> GenerationResult {
        let result = ResultBox(GenerationResult(promptTokenIDs: promptTokenIDs))
        let continuation = ContinuationBox()
        let request = GenerationRequest(
            prompt: promptTokenIDs, parameters: parameters ?? defaultParameters, processors: CustomProcessors.current, finishesWhenCancelled: true,
            emit: { result.value.append($0) },
            complete: { error in continuation.resume(error.map { .failure($0) } ?? .success(result.value)) })
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { resume in
                continuation.set(resume)
                scheduler.submit(request)
            }
        } onCancel: {
            request.cancel()
        }
    }

    /// Streams a continuation of `prompt`: one ``GenerationEvent/token(_:)`` per generated token,
    /// then ``GenerationEvent/finished(_:)``. Nil `parameters` are ``defaultParameters``.
    ///
    /// Cancelling the task that iterates the stream (or dropping the stream) stops the token loop,
    /// and the stream then ends without ``GenerationEvent/finished(_:)``: tokens already produced
    /// may still arrive, then iteration ends without an error. A ``GenerationResult`` built from
    /// such a stream keeps its initial stop reason, ``StopReason/cancelled``, and zero timings;
    /// a consumer that wants timings for a cancelled stream measures them as the events arrive.
    public func stream(prompt: String, parameters: GenerationParameters? = nil) -> AsyncThrowingStream<GenerationEvent, Error> {
        stream(promptTokenIDs: promptTokens(prompt), parameters: parameters)
    }

    /// Streams a continuation of a prompt given as token ids; see ``stream(prompt:parameters:)``
    /// for the events and for what cancellation does.
    public func stream(promptTokenIDs: [Int], parameters: GenerationParameters? = nil) -> AsyncThrowingStream<GenerationEvent, Error> {
        let buffer = EventBuffer()
        let request = GenerationRequest(
            prompt: promptTokenIDs, parameters: parameters ?? defaultParameters, processors: CustomProcessors.current, finishesWhenCancelled: false,
            emit: { buffer.push($0) },
            complete: { error in buffer.finish(error) })
        let owner = StreamOwner(request)
        scheduler.submit(request)
        return AsyncThrowingStream {
            // in the consuming task: a cancelled consumer ends the stream, and its generation
            guard !Task.isCancelled else {
                owner.request.cancel()
                return nil
            }
            return try await withTaskCancellationHandler {
                try await buffer.next()
            } onCancel: {
                owner.request.cancel()
                buffer.stop()
            }
        }
    }

    /// Log-probability of each prompt token given the ones before it (`nil` for the first):
    /// the model's score of a text, whose negative mean is the log of its perplexity.
    public func promptLogprobs(_ promptTokenIDs: [Int]) throws -> [Double?] {
        guard !promptTokenIDs.isEmpty else { return [] }
        try checkPrompt(promptTokenIDs)
        let logits = try model.forward(promptTokenIDs, cache: try model.makeCache(capacity: promptTokenIDs.count), logits: .all)
        let scores = (1..<promptTokenIDs.count).map { position in
            logits.values.withUnsafeBufferPointer { all in
                logSoftmax(all.baseAddress! + (position - 1) * logits.vocabularySize,
                           count: logits.vocabularySize, at: promptTokenIDs[position])
            }
        }
        // a non-finite logit anywhere in a row makes its log-softmax non-finite: an error, as when generating
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw GenerationError.nonFiniteLogits(position: bad, tokenID: promptTokenIDs[bad + 1])
        }
        return [nil] + scores
    }
}

/// A value written by the scheduler's thread and read once the request has completed.
private final class ResultBox: @unchecked Sendable {  // written only before `complete`, read only after
    var value: GenerationResult
    init(_ value: GenerationResult) { self.value = value }
}

/// The continuation of a `generate` call, resumed once when its request completes.
private final class ContinuationBox: Sendable {
    private let continuation = Mutex<CheckedContinuation<GenerationResult, any Error>?>(nil)

    func set(_ resume: CheckedContinuation<GenerationResult, any Error>) { continuation.withLock { $0 = resume } }

    func resume(_ result: Result<GenerationResult, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
