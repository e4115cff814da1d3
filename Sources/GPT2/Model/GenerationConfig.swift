import Foundation

/// What a checkpoint's optional `generation_config.json` says, as far as this engine reads it:
/// the tokens that end a text, and the sampling defaults its author recommends. Hugging Face's
/// `generate` takes both from there (the end-of-text tokens before `config.json`'s).
struct GenerationConfig {
    var endOfTextIDs: [Int]?
    var defaults = GenerationDefaults()

    /// Reads `generation_config.json` in `directory`; an absent file says nothing.
    init(directory: URL, vocabularySize: Int) throws {
        let url = directory.appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let data = try readModelFile(url, limit: 1 << 20)  // far more than any real one holds
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelLoadingError(.invalidJSON, file: url, "not a JSON object")
        }
        let fields = ConfigFields(object: object, url: url)
        endOfTextIDs = try fields.ids("eos_token_id", below: vocabularySize)
        defaults = try GenerationDefaults(fields)
    }
}

/// The sampling defaults a checkpoint's `generation_config.json` recommends, read as Hugging Face
/// `transformers` reads them; each is nil when the file does not set it (or there is no file).
///
/// ``GPT2Model/generationDefaults`` holds a model's. ``applied(to:)`` puts them over a set of
/// parameters, so that whatever the file leaves out keeps the value given there:
/// ``GPT2Model/defaultParameters`` is the library's defaults (`GenerationParameters()`) with the
/// model's applied, and what ``TextGenerator`` uses when a call passes no parameters. The
/// `generate` tool layers them the same way: its flags over the model's defaults over its own.
///
/// The fields read are `do_sample` (`false`: greedy, a ``temperature`` of 0, whatever the file's
/// `temperature`), `temperature`, `top_k`, `top_p`, `min_p`, `repetition_penalty`,
/// `max_new_tokens` and `stop_strings`. Each must be in the range ``GenerationParameters`` allows
/// (`max_new_tokens` at least 1), or loading fails naming the file and the field. Other fields are
/// ignored, among them `max_length` (a total length, prompt included, for which there is no
/// parameter: give `max_new_tokens`), beam search and the other decoding strategies.
public struct GenerationDefaults: Sendable, Equatable {
    /// `max_new_tokens`: the most tokens to generate (``GenerationParameters/maxNewTokens``).
    public var maxNewTokens: Int?
    /// `temperature`, or 0 (greedy) when `do_sample` is `false` (``GenerationParameters/temperature``).
    public var temperature: Float?
    /// `top_k`; 0 turns it off (``GenerationParameters/topK``).
    public var topK: Int?
    /// `top_p`; 1 turns it off (``GenerationParameters/topP``).
    public var topP: Float?
    /// `min_p`; 0 turns it off (``GenerationParameters/minP``).
    public var minP: Float?
    /// `repetition_penalty`; 1 turns it off (``GenerationParameters/repetitionPenalty``). The
    /// penalty window stays the parameters' own (``GenerationParameters/repetitionContextSize``).
    public var repetitionPenalty: Float?
    /// `stop_strings`, one string or a list of them (``GenerationParameters/stopSequences``).
    public var stopSequences: [String]?

    /// Defaults that set nothing; every argument is nil unless given.
    public init(maxNewTokens: Int? = nil, temperature: Float? = nil, topK: Int? = nil, topP: Float? = nil,
                minP: Float? = nil, repetitionPenalty: Float? = nil, stopSequences: [String]? = nil) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.stopSequences = stopSequences
    }

    /// `parameters` with every default set here in place of its own value.
    public func applied(to parameters: GenerationParameters) -> GenerationParameters {
        var parameters = parameters
        if let maxNewTokens { parameters.maxNewTokens = maxNewTokens }
        if let temperature { parameters.temperature = temperature }
        if let topK { parameters.topK = topK }
        if let topP { parameters.topP = topP }
        if let minP { parameters.minP = minP }
        if let repetitionPenalty { parameters.repetitionPenalty = repetitionPenalty }
        if let stopSequences { parameters.stopSequences = stopSequences }
        return parameters
    }

    /// The fields of a parsed `generation_config.json`, each checked against the range the
    /// parameter it sets allows.
    init(_ fields: ConfigFields) throws {
        maxNewTokens = try fields.int("max_new_tokens", range: 1...Int(Int32.max))
        topK = try fields.int("top_k", range: 0...Int(Int32.max))
        temperature = try Self.float(fields, "temperature", \.temperature)
        topP = try Self.float(fields, "top_p", \.topP)
        minP = try Self.float(fields, "min_p", \.minP)
        repetitionPenalty = try Self.float(fields, "repetition_penalty", \.repetitionPenalty)
        if try Self.strictBool(fields, "do_sample") == false { temperature = 0 }
        stopSequences = try Self.strings(fields, "stop_strings")
    }

    /// A number for `parameter`, refused unless ``GenerationParameters/validate()`` accepts it
    /// there: the same ranges as the API and the command line, checked as the Float it is used as.
    private static func float(_ fields: ConfigFields, _ key: String,
                              _ parameter: WritableKeyPath<GenerationParameters, Float>) throws -> Float? {
        guard let number = try fields.double(key) else { return nil }
        var parameters = GenerationParameters()
        parameters[keyPath: parameter] = Float(number)
        do {
            try parameters.validate()
        } catch {
            throw ModelLoadingError(.invalidValue, file: fields.url, "field \"\(key)\" is \(number): \(error.requirement)")
        }
        return Float(number)
    }

    /// `true` or `false` only: JSON's 0 and 1 bridge to Bool too, and `"do_sample": 0` is more
    /// likely a mistake than a choice.
    private static func strictBool(_ fields: ConfigFields, _ key: String) throws -> Bool? {
        guard let value = fields.object[key], !(value is NSNull) else { return nil }
        guard let bool = jsonBool(value) else {
            throw ModelLoadingError(.invalidValue, file: fields.url, "field \"\(key)\" should be true or false, found \(value)")
        }
        return bool
    }

    /// One non-empty string or a list of them, as Hugging Face writes `stop_strings`.
    private static func strings(_ fields: ConfigFields, _ key: String) throws -> [String]? {
        guard let value = fields.object[key], !(value is NSNull) else { return nil }
        let items = (value as? [Any]) ?? [value]
        return try items.map { item in
            guard let string = item as? String, !string.isEmpty else {
                throw ModelLoadingError(.invalidValue, file: fields.url, "field \"\(key)\" holds \(item), expected non-empty strings")
            }
            return string
        }
    }
}
