import GPT2

/// Makes checked pitches for customers with a `TextGenerator`, or an OpenAI-compatible server
/// (``RemoteBackend``).
///
/// ```swift
/// let pitches = PitchGenerator(generator: try TextGenerator(directory: modelDirectory))
/// let profile = CustomerProfile(fields: ["name": "Olivia Brown", "job": "nurse",
///                                        "product": "AuroraShot X2 mirrorless camera"])
/// for pitch in try await pitches.pitches(for: profile) { print(pitch.text) }
///
/// // A whole list, several customers sharing each forward pass, results as they finish:
/// for await outcome in pitches.pitches(for: profiles, parallel: 8) { ... }
/// ```
public struct PitchGenerator: Sendable {
    /// Where the pitches are drawn.
    public let backend: any PitchBackend
    public let options: PitchOptions

    /// Pitches from the local engine (with the script filter unless ``PitchOptions/scriptFilter`` is off).
    public init(generator: TextGenerator, options: PitchOptions = PitchOptions(), modelName: String = "") {
        self.init(backend: LocalBackend(generator: generator, modelName: modelName, scriptFilter: options.scriptFilter),
                  options: options)
    }

    public init(backend: any PitchBackend, options: PitchOptions = PitchOptions()) {
        self.backend = backend
        self.options = options
    }

    /// The language and prompt of a customer's pitches, or why there can be none.
    public func prompt(for profile: CustomerProfile) throws(PitchRejection) -> (language: PitchLanguage, text: String) {
        let language = options.language ?? profile.language
        if options.template == nil {
            for field in ["name", "product"] where profile[field] == nil {
                throw PitchRejection(profile, "no \(field)")
            }
        }
        let text = try (options.template ?? .builtIn(language)).prompt(for: profile, language: language)
        if let problem = backend.problem(with: text) { throw PitchRejection(profile, problem) }
        return (language, text)
    }

    /// The customer's pitches for `variants` (default: 1 through ``PitchOptions/variants``), best
    /// first, ranked by mean log-probability.
    public func pitches(for profile: CustomerProfile, variants: [Int]? = nil) async throws -> [Pitch] {
        let prompt = try prompt(for: profile)
        let variants = variants ?? Array(1...max(options.variants, 1))
        let pitches = try await withThrowingTaskGroup(of: Pitch.self) { group in
            for variant in variants {
                group.addTask { try await self.pitch(profile, variant: variant, prompt: prompt) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        return Self.ranked(pitches)
    }

    /// One customer's pitches best first, ranked by mean log-probability (ties: lower variant first).
    public static func ranked(_ pitches: [Pitch]) -> [Pitch] {
        var pitches = pitches
        pitches.sort { ($0.meanLogprob, -$0.variant) > ($1.meanLogprob, -$1.variant) }
        for index in pitches.indices { pitches[index].rank = index + 1 }
        return pitches
    }

    /// The customer's pitch (one variant) as it is written: each draw's text goes to `onText` as
    /// it is generated, and each draw that fails a check and is drawn again to `onRedraw`. The
    /// pitch returned is the best draw, which need not be the last; its rank is 1.
    public func pitch(for profile: CustomerProfile, variant: Int = 1, onText: @escaping @Sendable (String) -> Void,
                      onRedraw: @escaping @Sendable (Pitch) -> Void) async throws -> Pitch {
        try await pitch(profile, variant: variant, prompt: prompt(for: profile), onText: onText, onRedraw: onRedraw)
    }

    /// The outcome of one customer in ``pitches(for:parallel:variants:)``.
    public enum Outcome: Sendable {
        case pitches(CustomerProfile, [Pitch])
        case rejected(PitchRejection)
    }

    /// Pitches for every profile, `parallel` customers at a time (their generations share the
    /// generator's forward passes), each customer's as soon as all its variants are done.
    /// `variants` picks which variants a customer still needs (default: all); a customer needing
    /// none is skipped. Cancel the consuming task to stop: customers in progress are dropped.
    public func pitches(for profiles: [CustomerProfile], parallel: Int,
                        variants: @escaping @Sendable (CustomerProfile) -> [Int]? = { _ in nil })
        -> AsyncStream<Outcome> {
        AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: Outcome?.self) { group in
                    var remaining = profiles[...]
                    func launch() -> Bool {
                        while let profile = remaining.popFirst() {
                            let wanted = variants(profile)
                            if wanted?.isEmpty == true { continue }
                            group.addTask {
                                do {
                                    return .pitches(profile, try await self.pitches(for: profile, variants: wanted))
                                } catch let rejection as PitchRejection {
                                    return .rejected(rejection)
                                } catch {
                                    // cancelled: dropped; any other failure (a server gone) rejects
                                    // the customer, whom a later run does again
                                    return Task.isCancelled || error is CancellationError
                                        ? nil : .rejected(PitchRejection(profile, "\(error)"))
                                }
                            }
                            return true
                        }
                        return false
                    }
                    for _ in 0..<max(parallel, 1) where !launch() { break }
                    while let outcome = await group.next() {
                        if let outcome, !Task.isCancelled { continuation.yield(outcome) }
                        if !Task.isCancelled { _ = launch() }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One variant: drawn until it passes every check or the attempts run out; the best draw
    /// (most checks passed, then highest mean log-probability) is kept.
    private func pitch(_ profile: CustomerProfile, variant: Int, prompt: (language: PitchLanguage, text: String),
                       onText: (@Sendable (String) -> Void)? = nil,
                       onRedraw: @escaping @Sendable (Pitch) -> Void = { _ in }) async throws -> Pitch {
        var parameters = options.parameters
        parameters.maxNewTokens = options.maxTokens ?? PitchOptions.defaultMaxTokens[prompt.language]!
        let attempts = options.draws
        let firstSeed = options.seed(customerID: profile.id, variant: variant)
        var best: Pitch?
        for attempt in 0..<attempts {
            parameters.seed = firstSeed &+ UInt64(attempt)
            let draw: PitchDraw
            do {
                draw = try await backend.draw(prompt.text, parameters: parameters, englishOnly: prompt.language == .english, onText: onText)
            } catch let error as RemoteError where error.status == 400 {
                throw PitchRejection(profile, error.message)  // the server refused this prompt
            }
            let pitch = Pitch(
                customerID: profile.id, variant: variant, rank: 1, prompt: prompt.text, text: draw.text, language: prompt.language,
                checks: PitchCheck.passed(by: draw.text, stopReason: draw.stopReason, profile: profile, language: prompt.language),
                attempts: attempt + 1, seed: parameters.seed!, stopReason: draw.stopReason,
                promptTokens: draw.promptTokens, generatedTokens: draw.generatedTokens, meanLogprob: draw.meanLogprob)
            if best == nil || (pitch.checks.count, pitch.meanLogprob) > (best!.checks.count, best!.meanLogprob) {
                best = pitch
            }
            best!.attempts = attempt + 1
            if pitch.passedAllChecks { break }
            if attempt + 1 < attempts { onRedraw(pitch) }
        }
        return best!
    }
}
