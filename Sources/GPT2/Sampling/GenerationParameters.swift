import Foundation

/// Settings for one text generation: how many tokens to produce, how to pick each one, and when
/// to stop.
///
/// The sampling fields are consumed by ``Sampler``, which applies them in the same order as
/// Hugging Face `generate`, with OpenAI's logit bias first: logit bias → banned strings →
/// penalties → temperature → top-k → top-p → min-p → draw (see ``LogitProcessor``).
/// `maxNewTokens`, `stopSequences` and `stopAtEndOfText` are honoured by the generation loop.
///
/// Your own ``LogitProcessor``s are not part of the parameters (which stay plain, comparable
/// data): pass them to ``Sampler/init(parameters:tokenizer:processors:)`` or to
/// ``TextGenerator/generate(prompt:parameters:processors:)`` and its siblings.
///
/// Every field has a default, so `GenerationParameters()` is a reasonable configuration for
/// GPT-2 and ``greedy`` gives deterministic argmax decoding. A checkpoint may recommend its own
/// in `generation_config.json`: ``GPT2Model/defaultParameters`` are these defaults with the
/// model's (``GenerationDefaults``) applied, and ``TextGenerator`` uses them when given none. Call ``validate()`` before
/// generating; ``Sampler`` itself never traps on out-of-range values (see its documentation for
/// how it interprets them) but the results of such values are not meaningful.
public struct GenerationParameters: Sendable, Equatable {
    /// The maximum number of tokens to generate after the prompt.
    ///
    /// Default `256`. Range: `0...` (`0` generates nothing). Generation also ends when the
    /// sequence fills the model's context, so any larger value, up to `Int.max`, is allowed and
    /// leaves the context as the only limit.
    public var maxNewTokens: Int

    /// The softmax temperature: logits are divided by it before the distribution is formed.
    ///
    /// Default `0.8`. Range: `0...` (finite). `0` means greedy decoding: the sampler returns the
    /// argmax of the penalised logits (lowest token id on ties) and consumes no randomness.
    /// Values below `1` sharpen the distribution, values above `1` flatten it.
    public var temperature: Float

    /// Top-k filtering: keep only the `topK` most probable tokens (ties broken by lower token id).
    ///
    /// Default `40`. Range: `0...`. `0` (or any value ≥ the vocabulary size) turns it off.
    public var topK: Int

    /// Nucleus (top-p) filtering: keep the smallest set of most probable tokens whose cumulative
    /// probability is at least `topP` (always at least one token). Probabilities are those of the
    /// tokens that survived top-k, renormalised, as in Hugging Face `generate`.
    ///
    /// Default `0.95`. Range: `(0, 1]`. `1` turns it off.
    public var topP: Float

    /// Min-p filtering: keep the tokens whose probability (after temperature) is at least
    /// `minP` times the probability of the most likely token.
    ///
    /// Default `0.05`. Range: `[0, 1]`. `0` turns it off; `1` keeps only the most likely token(s).
    public var minP: Float

    /// The CTRL / Hugging Face repetition penalty `p`: every distinct token that occurs in the
    /// penalty window has its logit `l` replaced by `l / p` when `l > 0` and by `l * p` otherwise
    /// (once per token, however often it occurs).
    ///
    /// Default `1.0` (off). Range: `(0, ∞)`, finite. Values above `1` discourage repetition.
    public var repetitionPenalty: Float

    /// The OpenAI presence penalty: every token that occurs in the penalty window has
    /// `presencePenalty` subtracted from its logit (once, however often it occurs). Applied after
    /// the repetition penalty.
    ///
    /// Default `0` (off). Range: any finite value; negative values encourage repetition.
    public var presencePenalty: Float

    /// The OpenAI frequency penalty: every token has `frequencyPenalty × count` subtracted from
    /// its logit, where `count` is how often it occurs in the penalty window. Applied after the
    /// repetition penalty.
    ///
    /// Default `0` (off). Range: any finite value; negative values encourage repetition.
    public var frequencyPenalty: Float

    /// The penalty window: the repetition, presence and frequency penalties look at the last
    /// `repetitionContextSize` tokens of the history (prompt followed by the generated tokens).
    ///
    /// Default `64`. Range: `0...`. `0` means the whole history.
    public var repetitionContextSize: Int

    /// Biases added to the logits of chosen token ids before every other step, as OpenAI's
    /// `logit_bias`: `+100` all but forces a token, `-100` all but bans it.
    ///
    /// Default `[:]` (none). Range: ids `0...` (and below the vocabulary size, checked by
    /// ``validate(vocabularySize:)``, as ``TextGenerator`` does), finite biases.
    public var logitBias: [Int: Float]

    /// Strings that must never appear in the generated text, for example a competitor's name:
    /// every token that would complete one is forbidden (see ``BannedStringsProcessor`` for what
    /// that guarantees). Matching is exact and case-sensitive; banning `"Acme"` also keeps out
    /// `" Acme"` and `"Acmeville"`, not `"ACME"`.
    ///
    /// Default `[]` (none). Range: non-empty strings. Needs the tokenizer, so ``Sampler`` must be
    /// created with one (``TextGenerator`` does that).
    public var bannedStrings: [String]

    /// The seed of the sampler's random number generator. The same seed with the same parameters
    /// and logits yields the same tokens.
    ///
    /// Default `nil`: a fresh random seed for every ``Sampler`` (readable as ``Sampler/seed``).
    public var seed: UInt64?

    /// Strings that end the generation when they appear in the generated text. Honoured by the
    /// generation loop, not by ``Sampler``.
    ///
    /// Default `[]` (none).
    public var stopSequences: [String]

    /// How many of the most likely tokens each ``GeneratedToken`` lists with their
    /// log-probabilities (``GeneratedToken/topLogprobs``), as OpenAI's `logprobs`; `0...20`.
    ///
    /// Default `0` (none: no extra work per token).
    public var topLogprobs: Int

    /// Whether the generation stops when the model produces the end-of-text token
    /// (`<|endoftext|>`, id 50256 for GPT-2). Honoured by the generation loop.
    ///
    /// Default `true`.
    public var stopAtEndOfText: Bool

    /// Creates a set of generation parameters; every argument has the default documented on the
    /// property of the same name.
    public init(
        maxNewTokens: Int = 256,
        temperature: Float = 0.8,
        topK: Int = 40,
        topP: Float = 0.95,
        minP: Float = 0.05,
        repetitionPenalty: Float = 1.0,
        presencePenalty: Float = 0,
        frequencyPenalty: Float = 0,
        repetitionContextSize: Int = 64,
        logitBias: [Int: Float] = [:],
        bannedStrings: [String] = [],
        seed: UInt64? = nil,
        stopSequences: [String] = [],
        stopAtEndOfText: Bool = true,
        topLogprobs: Int = 0
    ) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionContextSize = repetitionContextSize
        self.logitBias = logitBias
        self.bannedStrings = bannedStrings
        self.seed = seed
        self.stopSequences = stopSequences
        self.stopAtEndOfText = stopAtEndOfText
        self.topLogprobs = topLogprobs
    }

    /// Greedy decoding preset: the defaults with `temperature` set to `0`, so every step picks the
    /// most likely token (top-k, top-p and min-p have no effect; penalties stay off).
    public static var greedy: GenerationParameters {
        GenerationParameters(temperature: 0)
    }

    /// Checks that every field is in its documented range.
    ///
    /// - Throws: ``GenerationParametersError`` for the first out-of-range field, naming the field
    ///   and its value: a negative `maxNewTokens`; a `temperature` that is negative, NaN or
    ///   infinite; a negative `topK`; a `topP` outside `(0, 1]`; a `minP` outside `[0, 1]`; a
    ///   `repetitionPenalty` that is `≤ 0`, NaN or infinite; a NaN or infinite `presencePenalty`
    ///   or `frequencyPenalty`; a negative `repetitionContextSize`; a `logitBias` entry with a
    ///   negative id or a bias that is NaN or infinite (the lowest such id is reported); an empty
    ///   string in `bannedStrings`; a `topLogprobs` outside `0...20`.
    public func validate() throws(GenerationParametersError) {
        if maxNewTokens < 0 {
            throw .init(.maxNewTokens, maxNewTokens, requirement: "must be >= 0")
        }
        if !(temperature >= 0 && temperature.isFinite) {
            throw .init(.temperature, temperature, requirement: "must be finite and >= 0 (0 = greedy)")
        }
        if topK < 0 {
            throw .init(.topK, topK, requirement: "must be >= 0 (0 = off)")
        }
        if !(topP > 0 && topP <= 1) {
            throw .init(.topP, topP, requirement: "must be in (0, 1] (1 = off)")
        }
        if !(minP >= 0 && minP <= 1) {
            throw .init(.minP, minP, requirement: "must be in [0, 1] (0 = off)")
        }
        if !(repetitionPenalty > 0 && repetitionPenalty.isFinite) {
            throw .init(.repetitionPenalty, repetitionPenalty, requirement: "must be finite and > 0 (1 = off)")
        }
        if !presencePenalty.isFinite {
            throw .init(.presencePenalty, presencePenalty, requirement: "must be finite (0 = off)")
        }
        if !frequencyPenalty.isFinite {
            throw .init(.frequencyPenalty, frequencyPenalty, requirement: "must be finite (0 = off)")
        }
        if repetitionContextSize < 0 {
            throw .init(.repetitionContextSize, repetitionContextSize, requirement: "must be >= 0 (0 = whole history)")
        }
        for (id, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            if id < 0 { throw .init(.logitBias, "\(id):\(bias)", requirement: "token ids must be >= 0") }
            if !bias.isFinite { throw .init(.logitBias, "\(id):\(bias)", requirement: "biases must be finite") }
        }
        if bannedStrings.contains("") {
            throw .init(.bannedStrings, "\"\"", requirement: "must not be empty")
        }
        if !(0...20).contains(topLogprobs) {
            throw .init(.topLogprobs, topLogprobs, requirement: "must be in 0...20")
        }
    }

    /// ``validate()``, and checks that every ``logitBias`` id is in `0..<vocabularySize`.
    ///
    /// - Throws: ``GenerationParametersError`` for the first out-of-range field.
    public func validate(vocabularySize: Int) throws(GenerationParametersError) {
        try validate()
        if let id = logitBias.keys.filter({ $0 >= vocabularySize }).min() {
            throw .init(.logitBias, "\(id):\(logitBias[id]!)", requirement: "token ids must be in 0..<\(vocabularySize)")
        }
    }
}

/// The error thrown by ``GenerationParameters/validate()`` for an out-of-range field.
///
/// Its description names the field, its value and the allowed range, for example
/// `invalid generation parameter topP = 1.5: must be in (0, 1] (1 = off)`.
public struct GenerationParametersError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The fields that ``GenerationParameters/validate()`` checks.
    public enum Parameter: String, Sendable, Equatable, CaseIterable {
        case maxNewTokens
        case temperature
        case topK
        case topP
        case minP
        case repetitionPenalty
        case presencePenalty
        case frequencyPenalty
        case repetitionContextSize
        case logitBias
        case bannedStrings
        case topLogprobs
    }

    /// The offending field.
    public let parameter: Parameter
    /// The offending value, as text.
    public let value: String
    /// What the value must satisfy.
    public let requirement: String

    /// Creates an error for `parameter` holding `value`.
    public init(_ parameter: Parameter, _ value: some CustomStringConvertible, requirement: String) {
        self.parameter = parameter
        self.value = value.description
        self.requirement = requirement
    }

    /// `invalid generation parameter <name> = <value>: <requirement>`.
    public var description: String {
        "invalid generation parameter \(parameter.rawValue) = \(value): \(requirement)"
    }

    /// The same text as ``description``.
    public var errorDescription: String? { description }
}
