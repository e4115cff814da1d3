// Custom logit processors for TextGenerator. They are not part of GenerationParameters, which
// stays plain, comparable data (Equatable); they are passed next to it, to these overloads.

extension TextGenerator {
    /// Generates a continuation of `prompt` with your own ``LogitProcessor``s in the sampler's
    /// chain (after the penalties, before the temperature); otherwise the same as
    /// ``generate(prompt:parameters:)``.
    ///
    /// Each generation runs on its own copy of `processors`.
    public func generate(prompt: String, parameters: GenerationParameters? = nil,
                         processors: [any LogitProcessor]) async throws -> GenerationResult {
        try await CustomProcessors.$current.withValue(processors) {
            try await generate(prompt: prompt, parameters: parameters)
        }
    }

    /// Generates a continuation of a prompt given as token ids with your own
    /// ``LogitProcessor``s; see ``generate(prompt:parameters:processors:)``.
    public func generate(promptTokenIDs: [Int], parameters: GenerationParameters? = nil,
                         processors: [any LogitProcessor]) async throws -> GenerationResult {
        try await CustomProcessors.$current.withValue(processors) {
            try await generate(promptTokenIDs: promptTokenIDs, parameters: parameters)
        }
    }

    /// Streams a continuation of `prompt` with your own ``LogitProcessor``s; otherwise the same
    /// as ``stream(prompt:parameters:)``.
    public func stream(prompt: String, parameters: GenerationParameters? = nil,
                       processors: [any LogitProcessor]) -> AsyncThrowingStream<GenerationEvent, Error> {
        CustomProcessors.$current.withValue(processors) {
            stream(prompt: prompt, parameters: parameters)
        }
    }

    /// Streams a continuation of a prompt given as token ids with your own ``LogitProcessor``s;
    /// see ``stream(prompt:parameters:processors:)``.
    public func stream(promptTokenIDs: [Int], parameters: GenerationParameters? = nil,
                       processors: [any LogitProcessor]) -> AsyncThrowingStream<GenerationEvent, Error> {
        CustomProcessors.$current.withValue(processors) {
            stream(promptTokenIDs: promptTokenIDs, parameters: parameters)
        }
    }
}

/// Carries the processors of the overloads above to the sampler that `TextGenerator`'s token loop
/// creates: they run that loop inside `withValue`, directly (`generate`) or in the task that
/// `stream` starts, which inherits task-local values. Empty outside those calls.
enum CustomProcessors {
    @TaskLocal static var current: [any LogitProcessor] = []
}
