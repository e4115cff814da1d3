/// Errors of ``TextGenerator`` before generation starts.
public enum GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The prompt has `tokens` tokens; the model's context holds `contextLength`.
    case promptTooLong(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case let .promptTooLong(tokens, contextLength):
            "the prompt is \(tokens) tokens long but the model's context holds \(contextLength); shorten it"
        }
    }
}
