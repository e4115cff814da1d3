import GPT2

/// One generated pitch, checked.
public struct Pitch: Sendable, Equatable {
    /// The customer's id.
    public var customerID: String
    /// Which of the customer's pitches this is, from 1.
    public var variant: Int
    /// Its place among the customer's variants generated together, 1 for the highest
    /// ``meanLogprob``.
    public var rank: Int
    /// The prompt the pitch continues (the filled template).
    public var prompt: String
    /// The pitch.
    public var text: String
    public var language: PitchLanguage
    /// The checks it passed (all of `PitchCheck.allCases` for a pitch ready to review).
    public var checks: Set<PitchCheck>
    /// How many times it was drawn (1 if the first draw passed every check).
    public var attempts: Int
    /// The seed of the draw kept.
    public var seed: UInt64
    public var stopReason: StopReason
    public var promptTokens: Int
    public var generatedTokens: Int
    /// The mean log-probability of its tokens under the model (higher: more typical of it).
    public var meanLogprob: Double

    /// Whether it passed every check.
    public var passedAllChecks: Bool { checks.count == PitchCheck.allCases.count }
}

/// Why no pitch was made for a customer: a missing field, a placeholder without a value, a prompt
/// longer than the model's context, or a malformed row of the customer list.
public struct PitchRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The customer's id, if the row had one (or a line number to stand for it).
    public var customerID: String?
    /// The line of the customer list the row starts on, if known.
    public var line: Int?
    /// What is wrong, e.g. `no product`.
    public var reason: String

    public init(customerID: String?, line: Int?, reason: String) {
        self.customerID = customerID
        self.line = line
        self.reason = reason
    }

    init(_ profile: CustomerProfile, _ reason: String) {
        self.init(customerID: profile.id, line: profile.line, reason: reason)
    }

    public var description: String {
        (line.map { "line \($0): " } ?? customerID.map { "customer \($0): " } ?? "") + reason
    }
}
