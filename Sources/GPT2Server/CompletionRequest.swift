import Foundation
import GPT2

/// A `POST /v1/completions` or `/v1/chat/completions` body, checked field by field: a field of
/// the wrong type or out of range is a 400 naming it. A field left out takes the model's default
/// where its generation_config.json sets one (as vLLM does), else the OpenAI API's (temperature
/// 1, top_p 1, 16 tokens, no top-k or min-p), not the command line's.
struct CompletionRequest {
    var model: String
    /// Prompts as token ids (one completion request may carry several).
    var prompts: [[Int]]
    var parameters: GenerationParameters
    var n: Int
    var stream: Bool
    var echo: Bool
    /// Top alternatives per token in `logprobs` (nil: no logprobs).
    var logprobs: Int?

    init(body: [String: Any], tokenizer: GPT2Tokenizer, chat: Bool, defaults: GenerationDefaults = GenerationDefaults()) throws(APIError) {
        let fields = Fields(body)
        guard let model = try fields.string("model") else { throw APIError.invalid("model", "you must provide a model parameter") }
        self.model = model
        // the count first: a body of a million short prompts is refused before any is tokenized
        n = try fields.int("n", in: 1...16) ?? 1
        let promptCount = chat ? 1 : (fields.value("prompt") as? [Any]).map { Self.tokenIDs($0) == nil ? $0.count : 1 } ?? 1
        if promptCount * n > 128 {
            throw APIError.invalid("prompt", "\(promptCount) prompts × n \(n) is \(promptCount * n) completions; at most 128 per request")
        }
        if chat {
            prompts = [TextGenerator.promptTokens(try Self.chatPrompt(fields.value("messages")), tokenizer: tokenizer)]
        } else {
            prompts = try Self.prompts(fields.value("prompt"), tokenizer: tokenizer)
        }
        var parameters = GenerationParameters(maxNewTokens: 16, temperature: 1, topK: 0, topP: 1, minP: 0)
        let maxCompletionTokens = chat ? try fields.int("max_completion_tokens", in: 0...Int(Int32.max)) : nil
        let maxTokens = try fields.int("max_tokens", in: 0...Int(Int32.max))
        parameters.maxNewTokens = maxCompletionTokens ?? maxTokens ?? defaults.maxNewTokens ?? (chat ? 256 : 16)
        parameters.temperature = try fields.float("temperature", in: 0...2) ?? defaults.temperature ?? 1
        parameters.topP = try fields.float("top_p", in: Float.leastNonzeroMagnitude...1) ?? defaults.topP ?? 1
        parameters.topK = try fields.int("top_k", in: 0...Int(Int32.max)) ?? defaults.topK ?? 0
        parameters.minP = try fields.float("min_p", in: 0...1) ?? defaults.minP ?? 0
        parameters.repetitionPenalty = try fields.float("repetition_penalty", in: Float.leastNonzeroMagnitude...10)
            ?? defaults.repetitionPenalty ?? 1
        parameters.presencePenalty = try fields.float("presence_penalty", in: -2...2) ?? 0
        parameters.frequencyPenalty = try fields.float("frequency_penalty", in: -2...2) ?? 0
        parameters.seed = try fields.seed()
        let stop = fields.value("stop") == nil ? defaults.stopSequences ?? [] : try Self.stop(fields.value("stop"))
        parameters.stopSequences = stop + (chat ? ["\nUser:", "\nSystem:"] : [])
        parameters.logitBias = try Self.logitBias(fields.value("logit_bias"))
        parameters.stopAtEndOfText = !(try fields.bool("ignore_eos") ?? false)  // as llama.cpp's server, for benchmarks
        self.parameters = parameters
        stream = try fields.bool("stream") ?? false
        echo = chat ? false : try fields.bool("echo") ?? false
        logprobs = chat ? nil : try fields.int("logprobs", in: 0...5)
        self.parameters.topLogprobs = logprobs ?? 0
        if chat, try fields.bool("logprobs") == true { throw APIError.invalid("logprobs", "logprobs are not supported for chat completions here") }
    }

    /// The plain chat format (GPT-2 has none of its own): each message as `Role: content` and a
    /// blank line, then `Assistant:` for the model to continue; generation stops where the model
    /// starts another turn.
    static func chatPrompt(_ value: Any?) throws(APIError) -> String {
        guard let messages = value as? [[String: Any]], !messages.isEmpty else {
            throw APIError.invalid("messages", "messages must be a non-empty array of {\"role\", \"content\"} objects")
        }
        var prompt = ""
        for (index, message) in messages.enumerated() {
            guard let role = message["role"] as? String, ["system", "user", "assistant", "developer"].contains(role) else {
                throw APIError.invalid("messages[\(index)].role", "role must be system, user, assistant or developer")
            }
            guard let content = message["content"] as? String else {
                throw APIError.invalid("messages[\(index)].content", "content must be a string")
            }
            let name = role == "developer" ? "System" : role.prefix(1).uppercased() + role.dropFirst()
            prompt += "\(name): \(content)\n\n"
        }
        return prompt + "Assistant:"
    }

    static func prompts(_ value: Any?, tokenizer: GPT2Tokenizer) throws(APIError) -> [[Int]] {
        let invalid = APIError.invalid("prompt", "prompt must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
        switch value {
        case nil, is NSNull: return [[tokenizer.endOfTextID]]
        case let text as String: return [TextGenerator.promptTokens(text, tokenizer: tokenizer)]
        case let array as [Any] where array.isEmpty: throw invalid
        case let texts as [String]: return texts.map { TextGenerator.promptTokens($0, tokenizer: tokenizer) }
        case let array as [Any]:
            if let ids = tokenIDs(array) { return [ids] }
            var prompts: [[Int]] = []
            for item in array {
                guard let inner = item as? [Any], let ids = tokenIDs(inner), !ids.isEmpty else { throw invalid }
                prompts.append(ids)
            }
            return prompts
        default: throw invalid
        }
    }

    /// An array of integers (JSON numbers without a fraction), or nil.
    static func tokenIDs(_ array: [Any]) -> [Int]? {
        var ids: [Int] = []
        for item in array {
            guard let number = item as? NSNumber, !Fields.isBoolean(item), let id = Int(exactly: number.doubleValue) else { return nil }
            ids.append(id)
        }
        return ids
    }

    /// `{"50256": -100}`: token ids (as strings, JSON's keys) to biases in -100...100.
    static func logitBias(_ value: Any?) throws(APIError) -> [Int: Float] {
        guard let value else { return [:] }
        guard let object = value as? [String: Any] else { throw APIError.invalid("logit_bias", "logit_bias must be an object of token ids to numbers") }
        var bias: [Int: Float] = [:]
        for (key, number) in object {
            guard let id = Int(key), id >= 0, let number = number as? NSNumber, !Fields.isBoolean(number),
                  (-100...100).contains(number.doubleValue) else {
                throw APIError.invalid("logit_bias", "logit_bias: \(key): expected a token id and a number in -100...100")
            }
            bias[id] = number.floatValue
        }
        return bias
    }

    static func stop(_ value: Any?) throws(APIError) -> [String] {
        switch value {
        case nil, is NSNull: return []
        case let texts as [String] where texts.count <= 4 && texts.allSatisfy({ $0.count <= 256 }): return texts.filter { !$0.isEmpty }
        case let text as String where text.count <= 256: return text.isEmpty ? [] : [text]
        default: throw APIError.invalid("stop", "stop must be a string or an array of up to 4 strings, each of at most 256 characters")
        }
    }
}

/// Typed access to a JSON object's fields, each a 400 naming the field when of the wrong type or
/// out of range; `null` counts as absent.
struct Fields {
    let object: [String: Any]

    init(_ object: [String: Any]) {
        self.object = object
    }

    /// Whether a JSONSerialization value is `true` or `false`. Not `value is Bool`: Foundation
    /// bridges the numbers 0 and 1 to Bool too. JSON's booleans are the NSNumbers of C type
    /// `char` ("c"); its numbers are integers ("q") or doubles ("d").
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    func value(_ name: String) -> Any? {
        object[name] is NSNull ? nil : object[name]
    }

    func string(_ name: String) throws(APIError) -> String? {
        guard let value = value(name) else { return nil }
        guard let string = value as? String else { throw APIError.invalid(name, "\(name) must be a string") }
        return string
    }

    func bool(_ name: String) throws(APIError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard Self.isBoolean(value), let bool = value as? Bool else { throw APIError.invalid(name, "\(name) must be a boolean") }
        return bool
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = value(name) else { return nil }
        // from the number's text, not its Double: seeds use all 64 bits
        guard let number = value as? NSNumber, !Self.isBoolean(value), let int = Int(number.stringValue) else {
            throw APIError.invalid(name, "\(name) must be an integer")
        }
        guard range.contains(int) else {
            throw APIError.invalid(name, "\(name) \(int) is out of range: it must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    /// `seed`: any 64-bit integer, signed or not (taken as its bit pattern).
    func seed() throws(APIError) -> UInt64? {
        guard let value = value("seed") else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(value),
              let seed = UInt64(number.stringValue) ?? Int64(number.stringValue).map(UInt64.init(bitPattern:)) else {
            throw APIError.invalid("seed", "seed must be a 64-bit integer")
        }
        return seed
    }

    func float(_ name: String, in range: ClosedRange<Float>) throws(APIError) -> Float? {
        guard let value = value(name) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(value), number.doubleValue.isFinite else {
            throw APIError.invalid(name, "\(name) must be a number")
        }
        let float = number.floatValue
        guard range.contains(float) else {
            throw APIError.invalid(name, "\(name) \(number) is out of range: it must be in \(range.lowerBound == .leastNonzeroMagnitude ? "(0" : "[\(range.lowerBound)"), \(range.upperBound)]")
        }
        return float
    }
}
