/// Why a generation ended.
public enum StopReason: String, Sendable, Equatable, Codable {
    /// The model produced `<|endoftext|>` (and ``GenerationParameters/stopAtEndOfText`` was set).
    case endOfText = "eos"
    /// ``GenerationParameters/maxNewTokens`` tokens were generated.
    case maxTokens = "length"
    /// A string of ``GenerationParameters/stopSequences`` appeared in the text.
    case stopSequence = "stop"
    /// The sequence reached the model's context length.
    case contextFull = "context"
    /// The task running the generation was cancelled. ``TextGenerator/generate(prompt:parameters:)``
    /// called from a task that is cancelled returns its result with this reason. A stream is never
    /// finished with it: a stream whose consuming task is cancelled ends without a
    /// ``GenerationEvent/finished(_:)`` event, and a ``GenerationResult`` built from it keeps this,
    /// its initial reason.
    case cancelled
}

/// How long the phases of a generation took.
public struct GenerationTimings: Sendable, Equatable, Codable {
    /// Seconds from the request's admission to its first generated token: the prompt's forward
    /// passes, whose last gives the first token, and that token's sampling.
    public var promptSeconds: Double
    /// Seconds from the first generated token to the last: one forward pass (and sampling) for
    /// each token after the first.
    public var generationSeconds: Double
    /// Prompt tokens per second of ``promptSeconds``.
    public var promptTokensPerSecond: Double
    /// Tokens generated after the first, per second of ``generationSeconds``: each took one
    /// forward pass. 0 when one token or none was generated.
    public var generationTokensPerSecond: Double
}

/// What a finished generation reports in its last event.
public struct GenerationSummary: Sendable, Equatable {
    /// Number of prompt tokens (after tokenization; 1 for an empty prompt, which starts from `<|endoftext|>`).
    public var promptTokenCount: Int
    /// Number of tokens generated.
    public var generatedTokenCount: Int
    /// Why generation ended.
    public var stopReason: StopReason
    /// Phase timings.
    public var timings: GenerationTimings
}

/// One generated token, with the text it made visible.
public struct GeneratedToken: Sendable, Equatable {
    /// The token's id.
    public var id: Int
    /// Log-probability of the token under the model's raw distribution (before penalties,
    /// temperature and truncation).
    public var logprob: Double
    /// The ``GenerationParameters/topLogprobs`` most likely tokens at this step, most likely
    /// first, with their log-probabilities under the raw distribution (empty unless asked for).
    public var topLogprobs: [TokenLogprob] = []
    /// Text that became visible with this token. It can be empty: a character split across
    /// several byte-level tokens, or text that might be the start of a stop string, is held back
    /// until it is complete (or dropped, if it turns out to be the stop string).
    public var text: String
}

/// A token and its log-probability under the model's raw distribution.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int
    public var logprob: Double
}

/// An event of ``TextGenerator/stream(prompt:parameters:)``.
public enum GenerationEvent: Sendable, Equatable {
    /// A token was generated.
    case token(GeneratedToken)
    /// Generation ended; this is the last event. A stream whose consuming task is cancelled ends
    /// without it.
    case finished(GenerationSummary)
}

/// The whole result of a generation.
public struct GenerationResult: Sendable, Equatable {
    /// The prompt as token ids.
    public var promptTokenIDs: [Int]
    /// The generated token ids (including any that formed a stop string, excluding nothing else).
    public var tokenIDs: [Int]
    /// Log-probability of each generated token (see ``GeneratedToken/logprob``).
    public var logprobs: [Double]
    /// The most likely tokens at each step (see ``GeneratedToken/topLogprobs``); empty lists
    /// unless ``GenerationParameters/topLogprobs`` asked for them.
    public var topLogprobs: [[TokenLogprob]]
    /// The generated text, without the stop string that ended it.
    public var text: String
    /// Counts, stop reason and timings.
    public var summary: GenerationSummary

    /// An empty result for a prompt, to be filled by ``append(_:)`` as events arrive. Until a
    /// ``GenerationEvent/finished(_:)`` event comes, its stop reason is ``StopReason/cancelled``
    /// and its timings are zero.
    public init(promptTokenIDs: [Int]) {
        self.promptTokenIDs = promptTokenIDs
        tokenIDs = []
        logprobs = []
        topLogprobs = []
        text = ""
        summary = GenerationSummary(promptTokenCount: promptTokenIDs.count, generatedTokenCount: 0, stopReason: .cancelled,
                                    timings: GenerationTimings(promptSeconds: 0, generationSeconds: 0,
                                                               promptTokensPerSecond: 0, generationTokensPerSecond: 0))
    }

    /// Adds an event of a stream to the result.
    public mutating func append(_ event: GenerationEvent) {
        switch event {
        case .token(let token):
            tokenIDs.append(token.id)
            logprobs.append(token.logprob)
            topLogprobs.append(token.topLogprobs)
            text += token.text
            summary.generatedTokenCount += 1
        case .finished(let summary):
            self.summary = summary
        }
    }
}
