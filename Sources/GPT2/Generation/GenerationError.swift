/// Errors of ``TextGenerator``: a request it cannot start, or (``nonFiniteLogits(position:tokenID:)``)
/// one it cannot continue.
public enum GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The prompt has no tokens.
    case emptyPrompt
    /// A prompt token id is outside `0..<vocabularySize`.
    case invalidTokenID(Int, vocabularySize: Int)
    /// The prompt has `tokens` tokens; the model's context holds `contextLength`.
    case promptTooLong(tokens: Int, contextLength: Int)
    /// The model's logit for token `tokenID`, after the token at `position`, is NaN or infinite:
    /// its weights, although finite, overflow float32 on this input. Only the request that hit it
    /// fails; the others in the batch go on.
    case nonFiniteLogits(position: Int, tokenID: Int)
    /// The KV cache for `positions` positions (prompt and tokens to come), `bytes` bytes, could not
    /// be allocated.
    case cacheTooLarge(bytes: Int, positions: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt has no tokens"
        case let .invalidTokenID(id, vocabularySize):
            "token id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case let .promptTooLong(tokens, contextLength):
            "the prompt is \(tokens) tokens long but the model's context holds \(contextLength); shorten it"
        case let .cacheTooLarge(bytes, positions):
            "the KV cache for \(positions) positions (\(bytes) bytes) cannot be allocated; ask for fewer tokens or a shorter prompt"
        case let .nonFiniteLogits(position, tokenID):
            "the model's logit for token id \(tokenID) after position \(position) is not finite (NaN or infinite): its weights overflow float32 on this input"
        }
    }
}
