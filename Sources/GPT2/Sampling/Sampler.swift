import GPT2Kernels

/// A token that can still be drawn after filtering, with its probability.
public struct SamplingCandidate: Sendable, Equatable {
    /// The token id (an index into the logits).
    public var id: Int
    /// The probability of drawing it; the probabilities of a candidate set sum to 1 (up to
    /// rounding).
    public var probability: Float

    /// Creates a candidate.
    public init(id: Int, probability: Float) {
        self.id = id
        self.probability = probability
    }
}

/// Picks the next token from the model's logits: a chain of ``LogitProcessor``s, then a draw.
///
/// Create one sampler per generation (it is a value type holding its own random number
/// generator and processors; do not share one between concurrent generations) and call
/// ``sample(logits:history:)-([Float],_)`` once per step. Given the same
/// ``GenerationParameters/seed``, the same parameters and the same logits, it returns the same
/// tokens.
///
/// The chain, in Hugging Face `generate`'s order (see ``LogitProcessor`` for details): logit
/// bias → banned strings → repetition, presence and frequency penalties → your processors →
/// temperature → top-k → top-p → min-p → one draw from the softmax of what is left, which
/// consumes exactly one 64-bit number from the generator (``SeededGenerator/nextUnitInterval()``),
/// even when only one token is left. With a temperature of 0 (or NaN) the steps from the
/// temperature on are skipped and the result is the argmax, consuming no randomness.
///
/// Ties and non-finite logits never trap: the lowest id wins every tie (argmax, top-k, top-p);
/// a NaN logit is treated as `-infinity`; if some logits are `+infinity` they share all the
/// probability equally (the filters still apply to them); if every logit is `-infinity` or NaN,
/// the result is token `0`. History ids outside the logits are ignored by the penalties.
///
/// The sampler does not validate its parameters (call ``GenerationParameters/validate()``), but
/// it does not trap on out-of-range values either: a temperature that is NaN or `<= 0` means
/// greedy; `topK <= 0` or `>= logits.count`, `topP` NaN or `>= 1`, and `minP` NaN or `<= 0` mean
/// off; `topP <= 0` or `minP > 1` keep only the most likely token; a non-finite or `<= 0`
/// repetition penalty and non-finite presence or frequency penalties are ignored.
public struct Sampler: Sendable {
    /// The parameters this sampler applies.
    public let parameters: GenerationParameters
    /// The seed the generator started from: ``GenerationParameters/seed``, or the random seed
    /// chosen when that is `nil` (reuse it to reproduce a run).
    public let seed: UInt64
    /// The random number generator; advanced by one `next()` per non-greedy draw.
    var generator: SeededGenerator
    /// Every step before the draw, in order.
    var processors: [any LogitProcessor]

    /// Creates a sampler; its generator is seeded from `parameters.seed`, or from the system's
    /// random source when that is `nil`.
    ///
    /// - Parameters:
    ///   - parameters: the sampling settings.
    ///   - tokenizer: the model's tokenizer, needed (only) to turn
    ///     ``GenerationParameters/bannedStrings`` into tokens; creating a sampler with banned
    ///     strings and no tokenizer is a programming error and traps.
    ///   - processors: your own steps, run after the penalties and before the temperature.
    public init(parameters: GenerationParameters, tokenizer: GPT2Tokenizer? = nil, processors: [any LogitProcessor] = []) {
        let seed = parameters.seed ?? UInt64.random(in: .min ... .max)
        self.parameters = parameters
        self.seed = seed
        self.generator = SeededGenerator(seed: seed)

        var chain: [any LogitProcessor] = []
        if !parameters.logitBias.isEmpty {
            chain.append(LogitBiasProcessor(parameters.logitBias))
        }
        if !parameters.bannedStrings.isEmpty {
            guard let tokenizer else { preconditionFailure("Sampler: bannedStrings needs the tokenizer") }
            chain.append(BannedStringsProcessor(parameters.bannedStrings, tokenizer: tokenizer))
        }
        chain.append(PenaltyProcessor(
            repetitionPenalty: parameters.repetitionPenalty, presencePenalty: parameters.presencePenalty,
            frequencyPenalty: parameters.frequencyPenalty, contextSize: parameters.repetitionContextSize))
        chain += processors
        chain.append(NonFiniteLogits())
        if Self.isSampling(parameters) {
            chain += [TemperatureProcessor(parameters.temperature), TopKProcessor(parameters.topK),
                      TopPProcessor(parameters.topP), MinPProcessor(parameters.minP)] as [any LogitProcessor]
        }
        self.processors = chain
    }

    /// Returns the next token id.
    ///
    /// - Parameters:
    ///   - logits: the model's logits for the last position (one per vocabulary entry, not empty).
    ///     Used as scratch: on return it holds the processed logits.
    ///   - history: the token ids so far (prompt followed by the generated tokens).
    public mutating func sample(logits: inout [Float], history: [Int]) -> Int {
        precondition(!logits.isEmpty, "Sampler.sample needs at least one logit")
        for i in processors.indices { processors[i].process(&logits, history: history) }
        guard Self.isSampling(parameters) else { return Self.argmax(logits) }
        return Self.draw(from: logits, generator.nextUnitInterval())
    }

    /// Returns the next token id; the same as ``sample(logits:history:)-([Float],_)`` for logits
    /// held in a buffer (which is left unchanged).
    public mutating func sample(logits: UnsafeMutableBufferPointer<Float>, history: [Int]) -> Int {
        var copy = Array(logits)
        return sample(logits: &copy, history: history)
    }

    /// The tokens a draw can return from these logits, with their probabilities: the result of
    /// the whole chain, renormalised. No randomness is consumed and the sampler is not changed
    /// (processors that keep state run on a copy).
    ///
    /// Sorted by decreasing probability, ties by increasing id. Tokens whose probability is
    /// exactly 0 (after `Float` underflow) are left out. With temperature 0 the result is the
    /// argmax alone, with probability 1.
    public func candidates(for logits: [Float], history: [Int] = []) -> [SamplingCandidate] {
        precondition(!logits.isEmpty, "Sampler.candidates needs at least one logit")
        var logits = logits
        var processors = processors
        for i in processors.indices { processors[i].process(&logits, history: history) }
        let distribution = TokenWeights(logits)
        guard Self.isSampling(parameters), !distribution.ids.isEmpty else {
            return [SamplingCandidate(id: Self.argmax(logits), probability: 1)]
        }
        return zip(distribution.ids, distribution.weights).filter { $0.1 > 0 }
            .map { SamplingCandidate(id: $0, probability: Float(Double($1) / distribution.total)) }
            .sorted { $0.probability > $1.probability || ($0.probability == $1.probability && $0.id < $1.id) }
    }

    // MARK: - Implementation

    /// Whether to draw at random rather than take the argmax (a temperature that is NaN or
    /// `<= 0` means argmax).
    static func isSampling(_ parameters: GenerationParameters) -> Bool {
        parameters.temperature > 0
    }

    /// The index of the largest logit, lowest index on ties; NaN never wins; 0 when every logit
    /// is `-infinity` or NaN.
    static func argmax(_ logits: [Float]) -> Int {
        logits.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { GPT2Kernels.argmax($0, count: buffer.count) } ?? 0
        }
    }

    /// The token whose interval contains `u * total` when the tokens' weights are laid end to end
    /// in id order, `u` in `[0, 1)`: token `i` comes with probability `weight(i) / total`.
    static func draw(from logits: [Float], _ u: Double) -> Int {
        let distribution = TokenWeights(logits)
        let target = u * distribution.total
        var cumulative = 0.0
        var last = 0
        for (id, weight) in zip(distribution.ids, distribution.weights) where weight > 0 {
            cumulative += Double(weight)
            if target < cumulative { return id }
            last = id
        }
        return last // rounding, or nothing left to draw
    }
}
