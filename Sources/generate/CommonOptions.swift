import ArgumentParser
import Foundation
import GPT2

/// Which model, and how it runs: shared by `text` and `pitch`.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model directory (config.json, model.safetensors, tokenizer files), or a Hugging Face repository id, OWNER/NAME[@REVISION], found in the Hugging Face cache or downloaded into it. Default: $GPT2_MODEL_DIR, else the bundled Models/sales-demo.", valueName: "dir|repo"))
    var model: String?

    @Flag(help: "Never use the network: a repository id must be in the Hugging Face cache (as with HF_HUB_OFFLINE=1).")
    var offline = false

    @Option(parsing: .unconditional, help: "Threads for the matrix products (default: the number of physical cores).")
    var threads: Int?

    @Option(help: "Weight matrices in f32; f16: half the memory and faster generation (float32 checkpoints are rounded to float16, which moves the logits slightly; float16 ones, like the demo model, are unchanged); or int8: about a quarter of the memory and faster still, rounded at load, which moves the logits more.")
    var precision: WeightPrecision = .float32

    @Option(help: "Weights mapped from the file (instant load) or resident (copied into the process's memory, in huge pages, float32 matrices transposed: a slower load, faster decoding, and they cannot be evicted with the page cache, nor lost if the files change). Default: resident for the long runs (--batch, pitch --customers, serve), else mapped.")
    var weights: WeightResidency?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): must be at least 1") }
    }

    /// The model's directory and name (see ``ModelLocator``); sets the compute threads.
    func locate() async throws -> ModelLocator.Located {
        ComputeThreads.count = threads ?? ComputeThreads.physicalCoreCount
        return try await ModelLocator.locate(option: model, offline: offline)
    }

    /// The model in `directory`, checked against the tokenizer loaded from it. A long run (a list of
    /// prompts or customers, a server) copies its weights unless told otherwise: the copy decodes
    /// faster, costs a fraction of a second against minutes of work, and a model file replaced or
    /// truncated during the run cannot change or end it.
    func load(_ directory: URL, tokenizer: GPT2Tokenizer, longRun: Bool) throws -> GPT2Model {
        try CLIError.loading {
            let residency = weights ?? (longRun ? .resident : .mapped)
            let model = try GPT2Model(directory: directory, residency: residency, precision: precision)
            try model.check(tokenizer: tokenizer)
            return model
        }
    }
}

/// The sampling flags, shared by `text` and `pitch`. A flag not given takes the model's default
/// from its generation_config.json where it sets one, else the command's own (`pitch`:
/// temperature 0.7 and a length per language), else the library's (`GenerationParameters()`).
struct SamplingOptions: ParsableArguments {
    static let library = GenerationParameters()
    static let fromModel = "the model's generation_config.json, else"

    @Option(parsing: .unconditional, help: "Most tokens to generate (default: \(fromModel) \(library.maxNewTokens); for pitch: 150 in English, 300 in Chinese).")
    var maxTokens: Int?

    @Option(parsing: .unconditional, help: "Sampling temperature; 0 is greedy (default: \(fromModel) \(library.temperature); for pitch: 0.7).")
    var temperature: Float?

    @Option(parsing: .unconditional, help: "Keep only the k most likely tokens; 0 turns it off (default: \(fromModel) \(library.topK)).")
    var topK: Int?

    @Option(parsing: .unconditional, help: "Keep the most likely tokens up to this cumulative probability; 1 turns it off (default: \(fromModel) \(library.topP)).")
    var topP: Float?

    @Option(parsing: .unconditional, help: "Keep tokens at least this fraction as likely as the most likely one; 0 turns it off (default: \(fromModel) \(library.minP)).")
    var minP: Float?

    @Option(parsing: .unconditional, help: "Repetition penalty (CTRL rule); 1 turns it off (default: \(fromModel) \(library.repetitionPenalty)).")
    var repetitionPenalty: Float?

    @Option(parsing: .unconditional, help: "Presence penalty (OpenAI rule); 0 turns it off.")
    var presencePenalty: Float = library.presencePenalty

    @Option(parsing: .unconditional, help: "Frequency penalty (OpenAI rule); 0 turns it off.")
    var frequencyPenalty: Float = library.frequencyPenalty

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Add BIAS to the logit of token ID before sampling, as OpenAI's logit_bias: 100 all but forces the token, -100 all but bans it. Repeatable; the last one for an ID wins.", valueName: "id:bias"),
            transform: { value in
                let parts = value.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let id = Int(parts[0]), let bias = Float(parts[1]) else {
                    throw ValidationError("expected ID:BIAS, e.g. 50256:-100")
                }
                return (id, bias)
            })
    var logitBias: [(id: Int, bias: Float)] = []

    @Option(help: ArgumentHelp("Never let TEXT appear in the generated text (e.g. a competitor's name; exact and case-sensitive, so \"Acme\" also keeps out \" Acme\" and \"Acmeville\" but not \"ACME\"). Repeatable.", valueName: "text"))
    var ban: [String] = []

    @Option(help: "Random seed; the same seed gives the same text.")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Stop when this text appears; it is not printed. Repeatable; replaces the model's stop_strings.", valueName: "text"))
    var stop: [String] = []

    @Flag(help: "Keep generating past <|endoftext|>.")
    var ignoreEos = false

    /// The parameters the flags give, over `defaults` (the model's defaults over a command's own).
    func parameters(_ defaults: GenerationParameters = library) -> GenerationParameters {
        // the flags given stand over the defaults as a model's generation_config.json does
        var parameters = GenerationDefaults(
            maxNewTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, minP: minP,
            repetitionPenalty: repetitionPenalty, stopSequences: stop.isEmpty ? nil : stop
        ).applied(to: defaults)
        parameters.presencePenalty = presencePenalty
        parameters.frequencyPenalty = frequencyPenalty
        parameters.logitBias = Dictionary(logitBias, uniquingKeysWith: { _, last in last })
        parameters.bannedStrings = ban
        parameters.seed = seed
        parameters.stopAtEndOfText = !ignoreEos
        return parameters
    }

    func validate() throws {
        try check(vocabularySize: nil)
    }

    /// The sampling options against their ranges (and, once the model is loaded, token ids against
    /// its vocabulary), as a usage error naming the flag.
    func check(vocabularySize: Int?) throws {
        let parameters = parameters()
        do {
            if let vocabularySize { try parameters.validate(vocabularySize: vocabularySize) } else { try parameters.validate() }
        } catch {
            let message = "--\(Self.flagName(error.parameter)) \(error.value): \(error.requirement)"
            if vocabularySize == nil { throw ValidationError(message) }
            throw CLIError.usage(message)
        }
    }

    static func flagName(_ parameter: GenerationParametersError.Parameter) -> String {
        switch parameter {
        case .maxNewTokens: "max-tokens"
        case .temperature: "temperature"
        case .topK: "top-k"
        case .topP: "top-p"
        case .minP: "min-p"
        case .repetitionPenalty: "repetition-penalty"
        case .presencePenalty: "presence-penalty"
        case .frequencyPenalty: "frequency-penalty"
        case .repetitionContextSize: "repetition-context-size"
        case .logitBias: "logit-bias"
        case .bannedStrings: "ban"
        case .topLogprobs: "top-logprobs"
        }
    }
}

// `--precision` and `--weights` take the enums' raw values (f32/f16/int8, mapped/resident)
extension WeightPrecision: ExpressibleByArgument {}
extension WeightResidency: ExpressibleByArgument {}
