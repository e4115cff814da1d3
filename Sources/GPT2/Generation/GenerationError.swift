/// Errors of ``TextGenerator`` before generation starts.
public enum GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The prompt has no tokens.
    case emptyPrompt
    /// A prompt token id is outside `0..<vocabularySize`.
    case invalidTokenID(Int, vocabularySize: Int)
    /// The prompt has `tokens` tokens; the model's context holds `contextLength`.
    case promptTooLong(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt has no tokens"
        case let .invalidTokenID(id, vocabularySize):
            "token id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case let .promptTooLong(tokens, contextLength):
            "the prompt is \(tokens) tokens long but the model's context holds \(contextLength); shorten it"
        }
    }
}
