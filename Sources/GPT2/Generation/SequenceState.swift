import GPT2Kernels

/// What one generation carries from step to step: its sampler (with its own seeded random stream),
/// the text decoder, the stop-string filter and the tokens so far. It turns each step's logits
/// into the next token, the text that token makes visible, and whether the generation ends there.
struct SequenceState {
    let parameters: GenerationParameters
    let promptCount: Int
    private let contextLength: Int
    private let endOfTextIDs: Set<Int>
    private(set) var history: [Int]
    private var sampler: Sampler
    private var decoder: StreamingDecoder
    private var filter: StopSequenceFilter
    private var scratch: [Float] = []

    init(prompt: [Int], parameters: GenerationParameters, processors: [any LogitProcessor],
         tokenizer: GPT2Tokenizer, contextLength: Int, endOfTextIDs: Set<Int>) {
        self.parameters = parameters
        promptCount = prompt.count
        self.contextLength = contextLength
        self.endOfTextIDs = endOfTextIDs
        history = prompt
        sampler = Sampler(parameters: parameters, tokenizer: tokenizer, processors: processors)
        decoder = StreamingDecoder(tokenizer: tokenizer)
        filter = StopSequenceFilter(stopSequences: parameters.stopSequences)
    }

    /// Tokens generated so far.
    var generatedCount: Int { history.count - promptCount }

    /// Picks the next token from `logits` (the model's, for the last position), and returns it with
    /// its log-probability under the raw distribution and the text it makes visible, and why the
    /// generation ends with it, if it does.
    ///
    /// - Throws: ``GenerationError/nonFiniteLogits(position:tokenID:)`` when a logit of the model's
    ///   is NaN or infinite. Checked before the processors, which may set infinities on purpose.
    mutating func next(logits: [Float]) throws(GenerationError) -> (token: GeneratedToken, stop: StopReason?) {
        let bad = logits.withUnsafeBytes { firstNonFinite($0.baseAddress!, count: logits.count, format: .float32) }
        if let bad { throw .nonFiniteLogits(position: history.count - 1, tokenID: bad.index) }
        // sample from a copy: the sampler rewrites its input, the log-prob needs the raw logits
        scratch = logits
        let id = sampler.sample(logits: &scratch, history: history)
        let logprob = logits.withUnsafeBufferPointer { logSoftmax($0.baseAddress!, count: $0.count, at: id) }
        history.append(id)

        var text: String
        var reason: StopReason?
        if endOfTextIDs.contains(id) && parameters.stopAtEndOfText {
            (text, reason) = ("", .endOfText)
        } else {
            let (visible, stopped) = filter.append(decoder.append(id))
            (text, reason) = (visible, stopped ? .stopSequence : nil)
        }
        if reason == nil && generatedCount == parameters.maxNewTokens { reason = .maxTokens }
        if reason == nil && history.count == contextLength { reason = .contextFull }
        if let ending = reason, ending != .stopSequence {
            // The last token: release the text still held back. Bytes held back are the start of
            // a character the generation ended inside; they stay out of the text (the ids keep them).
            text += filter.finish()
        }
        var top: [TokenLogprob] = []
        if parameters.topLogprobs > 0 {
            let logSumExp = Double(logits[id]) - logprob  // log Σ exp(logits), from the token's log-softmax
            top = Self.largest(logits, count: parameters.topLogprobs).map { TokenLogprob(id: $0, logprob: Double(logits[$0]) - logSumExp) }
        }
        return (GeneratedToken(id: id, logprob: logprob, topLogprobs: top, text: text), reason)
    }

    /// The indices of the `count` largest values, largest first (ties: the lower index first).
    static func largest(_ values: [Float], count: Int) -> [Int] {
        var best: [Int] = []
        for i in values.indices where best.count < count || values[i] > values[best[best.count - 1]] {
            let place = best.firstIndex { values[i] > values[$0] } ?? best.count
            best.insert(i, at: place)
            if best.count > count { best.removeLast() }
        }
        return best
    }
}
