/// Errors from running a loaded model (loading errors are ``ModelLoadingError``).
public enum GPT2Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// The tokens do not fit: the sequence would need `needed` positions, the limit is `limit`.
    case contextOverflow(needed: Int, limit: Int)
    /// A token id is outside `0..<vocabularySize`.
    case invalidTokenID(Int, vocabularySize: Int)
    /// The cache was made by a model of another shape.
    case cacheMismatch
    /// A forward pass was asked to run on no tokens.
    case noTokens
    /// The same cache appears twice in one batch.
    case duplicateCache

    public var description: String {
        switch self {
        case let .contextOverflow(needed, limit):
            "the sequence needs \(needed) positions but the context holds \(limit)"
        case let .invalidTokenID(id, vocabularySize):
            "token id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case .cacheMismatch:
            "the KV cache was made for a model of another shape"
        case .noTokens:
            "no tokens to process"
        case .duplicateCache:
            "the same KV cache appears twice in one batch"
        }
    }
}
