import GPT2Kernels

/// One step between the model's logits and the token drawn from them: it rewrites the logits in
/// place, for example to forbid a token (`-infinity`), favour one, or penalise repetition.
///
/// A ``Sampler`` is a chain of processors. For every token it runs, in this order (Hugging Face
/// `generate`'s, with OpenAI's logit bias first):
/// 1. ``LogitBiasProcessor`` (``GenerationParameters/logitBias``);
/// 2. ``BannedStringsProcessor`` (``GenerationParameters/bannedStrings``);
/// 3. ``PenaltyProcessor`` (the repetition, presence and frequency penalties);
/// 4. your own processors, in the order given;
/// 5. NaN logits become `-infinity`; if any logit is `+infinity`, those share the probability
///    equally (they become 0 and every other logit `-infinity`);
/// 6. when sampling (temperature above 0): ``TemperatureProcessor``, ``TopKProcessor``,
///    ``TopPProcessor``, ``MinPProcessor``; then the draw, from the softmax of what is left. With
///    temperature 0 the argmax is taken instead.
///
/// Your processors see logits on the model's scale (after the bias and the penalties, before the
/// temperature). A token whose logit is `-infinity` is never drawn (unless every token is, when the
/// sampler returns token 0).
///
/// A processor is a value: each generation gets its own copy, so a `mutating` processor can keep
/// state across the tokens of one generation (for example how many tokens it has seen).
///
/// ```swift
/// /// Never ends a sentence: forbids the tokens "." and " .".
/// struct NoFullStops: LogitProcessor {
///     func process(_ logits: inout [Float], history: [Int]) {
///         for id in [13, 764] where id < logits.count { logits[id] = -.infinity }
///     }
/// }
///
/// let result = try await generator.generate(prompt: prompt, parameters: .greedy,
///                                           processors: [NoFullStops()])
/// ```
public protocol LogitProcessor: Sendable {
    /// Rewrites the logits for the next token.
    ///
    /// - Parameters:
    ///   - logits: one value per vocabulary entry (never empty when called by ``Sampler``).
    ///   - history: the token ids so far: the prompt followed by the tokens generated.
    mutating func process(_ logits: inout [Float], history: [Int])
}

/// NaN becomes `-infinity`; when some logits are `+infinity`, they become 0 and all the others
/// `-infinity`, so that they share the probability equally. Afterwards every logit is finite or
/// `-infinity`, which the steps from the temperature on expect.
struct NonFiniteLogits: LogitProcessor {
    func process(_ logits: inout [Float], history: [Int]) {
        // The sum is NaN or +infinity if some logit is (or, harmlessly, if it overflows).
        let sum = logits.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { sumElements($0, count: buffer.count) } ?? 0
        }
        guard sum.isNaN || sum == .infinity else { return }
        for i in logits.indices {
            logits[i] = logits[i].isNaN ? -.infinity : logits[i]
        }
        guard maximumLogit(logits) == .infinity else { return }
        for i in logits.indices {
            logits[i] = logits[i] == .infinity ? 0 : -.infinity
        }
    }
}
