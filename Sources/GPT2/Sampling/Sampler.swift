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

/// Picks the next token from the model's logits.
///
/// Create one sampler per generation (it is a value type holding its own random number
/// generator; do not share one between concurrent generations) and call
/// ``sample(logits:history:)`` once per step. Given the same ``GenerationParameters/seed``, the
/// same parameters and the same logits, it returns the same tokens.
///
/// Each call applies, in the order Hugging Face `generate` uses:
/// 1. the repetition, presence and frequency penalties over the last
///    ``GenerationParameters/repetitionContextSize`` tokens of the history
///    (``applyPenalties(to:history:)``);
/// 2. if the temperature is 0: the argmax of the penalised logits (lowest id on ties), without
///    consuming randomness;
/// 3. otherwise temperature, top-k, top-p, min-p (``candidates(for:)``), then one draw that
///    consumes exactly one 64-bit number from the generator.
///
/// Non-finite logits never trap: a NaN logit is treated as `-infinity`. If some logits are
/// `+infinity` they share all the probability equally (top-k, top-p and min-p still apply to
/// them, ties going to the lower ids). If every logit is `-infinity` or NaN, the result is token
/// `0` (the argmax under the lowest-index tie rule). History ids outside `0..<logits.count` are
/// ignored by the penalties.
///
/// The sampler does not validate its parameters (call ``GenerationParameters/validate()``), but
/// it does not trap on out-of-range values either: a temperature that is NaN or `<= 0` means
/// greedy; `topK <= 0` or `>= logits.count`, `topP` NaN or `>= 1`, and `minP` NaN or `<= 0` mean
/// off; `topP <= 0` or `minP > 1` keep only the most likely token; a non-finite or `<= 0`
/// repetition penalty and non-finite presence or frequency penalties are ignored.
///
/// Speed (about 10 µs per call with the default parameters on GPT-2's 50257 logits, release
/// build): the vocabulary-sized loops work 16 logits at a time. With top-k on (the default) one
/// pass keeps the k best in a small buffer (partial selection, never a full sort); top-p and
/// min-p then see only those k. With top-p and/or min-p alone, a pass finds the maximum (and one
/// the normaliser, for top-p), then only the tokens above a probability threshold that provably
/// contains the result are collected and sorted. With no filter there is no sort at all.
public struct Sampler: Sendable {
    /// The parameters this sampler applies.
    public let parameters: GenerationParameters
    /// The seed the generator started from: ``GenerationParameters/seed``, or the random seed
    /// chosen when that is `nil` (reuse it to reproduce a run).
    public let seed: UInt64
    /// The random number generator; advanced by one `next()` per non-greedy ``sample(logits:history:)``.
    var generator: SeededGenerator

    /// Creates a sampler; its generator is seeded from `parameters.seed`, or from the system's
    /// random source when that is `nil`.
    public init(parameters: GenerationParameters) {
        let seed = parameters.seed ?? UInt64.random(in: .min ... .max)
        self.parameters = parameters
        self.seed = seed
        self.generator = SeededGenerator(seed: seed)
    }

    // MARK: - Sampling

    /// Returns the next token id.
    ///
    /// - Parameters:
    ///   - logits: the model's logits for the last position (one per vocabulary entry, not empty).
    ///     Used as scratch: on return it holds unspecified values.
    ///   - history: the token ids so far (prompt followed by the generated tokens), for the
    ///     penalties.
    public mutating func sample(logits: inout [Float], history: [Int]) -> Int {
        logits.withUnsafeMutableBufferPointer { buffer in
            sample(logits: buffer, history: history)
        }
    }

    /// Returns the next token id; the same as ``sample(logits:history:)`` for logits
    /// held in a buffer (which is used as scratch and holds unspecified values on return).
    public mutating func sample(logits: UnsafeMutableBufferPointer<Float>, history: [Int]) -> Int {
        precondition(!logits.isEmpty, "Sampler.sample needs at least one logit")
        Self.applyPenalties(parameters, to: logits, history: history)
        guard Self.isSampling(parameters.temperature) else {
            return Self.argmax(UnsafeBufferPointer(logits))
        }
        let u = generator.nextUnitInterval()
        return Self.withCandidates(logits, parameters) { set in set.draw(u) }
    }

    // MARK: - The steps, callable separately

    /// Applies the repetition, presence and frequency penalties in place.
    ///
    /// For every distinct token id `t` in the last ``GenerationParameters/repetitionContextSize``
    /// entries of `history` (all of it when that is 0), occurring `c` times there, with `l` its
    /// logit:
    /// - repetition penalty `r` (when `r != 1`): `l = l > 0 ? l / r : l * r`, once;
    /// - presence penalty: `l -= presencePenalty`, once;
    /// - frequency penalty: `l -= frequencyPenalty * c`.
    /// Ids outside `0..<logits.count` are ignored.
    public func applyPenalties(to logits: inout [Float], history: [Int]) {
        logits.withUnsafeMutableBufferPointer { buffer in
            Self.applyPenalties(parameters, to: buffer, history: history)
        }
    }

    /// Applies the penalties in place to logits held in a buffer; see
    /// ``applyPenalties(to:history:)``.
    public func applyPenalties(to logits: UnsafeMutableBufferPointer<Float>, history: [Int]) {
        Self.applyPenalties(parameters, to: logits, history: history)
    }

    /// The tokens a draw can return from these logits, with their probabilities: the result of
    /// temperature, top-k, top-p and min-p, renormalised. Penalties are *not* applied (pass
    /// penalised logits, see ``applyPenalties(to:history:)``), and no randomness is
    /// consumed.
    ///
    /// Sorted by decreasing probability, ties by increasing id. Tokens whose probability is
    /// exactly 0 (after `Float` underflow) are left out. With temperature 0 the result is the
    /// argmax alone, with probability 1.
    public func candidates(for logits: [Float]) -> [SamplingCandidate] {
        precondition(!logits.isEmpty, "Sampler.candidates needs at least one logit")
        var scratch = logits
        return scratch.withUnsafeMutableBufferPointer { buffer in
            Self.withCandidates(buffer, parameters) { set in set.probabilities() }
        }
    }

    // MARK: - Implementation

    /// Whether `temperature` asks for sampling rather than argmax (NaN and `<= 0` mean argmax).
    @inline(__always)
    static func isSampling(_ temperature: Float) -> Bool {
        temperature > 0
    }

    /// The index of the largest logit, lowest index on ties; NaN never wins; 0 when every logit
    /// is `-infinity` or NaN.
    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        SamplingKernels.argmax(logits)
    }

    static func applyPenalties(
        _ parameters: GenerationParameters,
        to logits: UnsafeMutableBufferPointer<Float>,
        history: [Int]
    ) {
        let repetition = parameters.repetitionPenalty
        let presence = parameters.presencePenalty.isFinite ? parameters.presencePenalty : 0
        let frequency = parameters.frequencyPenalty.isFinite ? parameters.frequencyPenalty : 0
        let useRepetition = repetition != 1 && repetition > 0 && repetition.isFinite
        guard useRepetition || presence != 0 || frequency != 0, !history.isEmpty else { return }

        let size = parameters.repetitionContextSize
        let start = size > 0 && size < history.count ? history.count - size : 0
        let windowCount = history.count - start
        let vocabularySize = logits.count
        history.withUnsafeBufferPointer { history in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: windowCount) { window in
                window.baseAddress!.initialize(from: history.baseAddress! + start, count: windowCount)
                // Sorting the (short) window groups equal ids: one pass then sees each distinct
                // id once, with its count, without a vocabulary-sized table.
                var sortable = window // sorts the memory in place
                sortable.sort()
                var i = 0
                while i < windowCount {
                    let id = window[i]
                    var j = i + 1
                    while j < windowCount && window[j] == id { j += 1 }
                    let count = j - i
                    i = j
                    guard id >= 0 && id < vocabularySize else { continue }
                    var logit = logits[id]
                    if useRepetition {
                        logit = logit > 0 ? logit / repetition : logit * repetition
                    }
                    if presence != 0 {
                        logit -= presence
                    }
                    if frequency != 0 {
                        logit -= frequency * Float(count)
                    }
                    logits[id] = logit
                }
                window.baseAddress!.deinitialize(count: windowCount)
            }
        }
    }
}
