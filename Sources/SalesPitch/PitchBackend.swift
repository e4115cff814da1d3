import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GPT2

/// One draw of a pitch, as a backend reports it.
public struct PitchDraw: Sendable {
    public var text: String
    public var stopReason: StopReason
    public var promptTokens: Int
    public var generatedTokens: Int
    public var meanLogprob: Double
}

/// Where pitches are drawn: the local engine (``LocalBackend``) or an OpenAI-compatible server
/// (``RemoteBackend``), so that a team can run its lists against engines behind a load balancer.
public protocol PitchBackend: Sendable {
    /// The model's name, for the pitches file.
    var modelName: String { get }
    /// Why `prompt` cannot be completed (longer than the model's context), or nil.
    func problem(with prompt: String) -> String?
    /// Draws one completion of `prompt`, passing its text to `onText`, if given, as it comes
    /// (piece by piece where the backend streams, else all at once). `englishOnly`: keep CJK text
    /// out, where the backend can.
    func draw(_ prompt: String, parameters: GenerationParameters, englishOnly: Bool,
              onText: (@Sendable (String) -> Void)?) async throws -> PitchDraw
}

/// Pitches from a `TextGenerator` in this process.
public struct LocalBackend: PitchBackend {
    public let generator: TextGenerator
    public let modelName: String
    let scriptFilter: ScriptFilter?

    /// - Parameters:
    ///   - generator: the engine.
    ///   - modelName: the model's name, for the pitches file.
    ///   - scriptFilter: forbid CJK tokens in English pitches (``ScriptFilter``).
    public init(generator: TextGenerator, modelName: String = "", scriptFilter: Bool = true) {
        self.generator = generator
        self.modelName = modelName
        self.scriptFilter = scriptFilter ? ScriptFilter(tokenizer: generator.tokenizer) : nil
    }

    public func problem(with prompt: String) -> String? {
        do {
            try generator.checkPrompt(generator.promptTokens(prompt))
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func draw(_ prompt: String, parameters: GenerationParameters, englishOnly: Bool,
                     onText: (@Sendable (String) -> Void)?) async throws -> PitchDraw {
        let ids = generator.promptTokens(prompt)
        let processors: [any LogitProcessor] = englishOnly ? [scriptFilter].compactMap { $0 } : []
        var result = GenerationResult(promptTokenIDs: ids)
        if let onText {
            for try await event in generator.stream(promptTokenIDs: ids, parameters: parameters, processors: processors) {
                result.append(event)
                if case .token(let token) = event, !token.text.isEmpty { onText(token.text) }
            }
        } else {
            // collected on the scheduler's thread: no task to wake per token
            result = try await generator.generate(promptTokenIDs: ids, parameters: parameters, processors: processors)
        }
        try Task.checkCancellation()
        return PitchDraw(text: result.text, stopReason: result.summary.stopReason, promptTokens: ids.count,
                         generatedTokens: result.tokenIDs.count,
                         meanLogprob: result.logprobs.isEmpty ? 0 : result.logprobs.reduce(0, +) / Double(result.logprobs.count))
    }
}

/// Pitches from an OpenAI-compatible completions endpoint (`generate serve`, or any other), with
/// the same sampling parameters and seeds. What it cannot do there: the script filter (a server
/// may not share GPT-2's vocabulary; checks and redraws still apply) and banned strings; and a
/// pitch ended by a stop string is recorded as ended at end-of-text (the API says "stop" for both).
public struct RemoteBackend: PitchBackend {
    /// The API's base URL, e.g. `http://10.0.0.5:8080/v1`.
    public let baseURL: URL
    public let modelName: String
    let apiKey: String?

    /// Connects to `baseURL` and takes the first model it lists (`GET /models`), unless `model` is given.
    public static func connect(to baseURL: URL, apiKey: String?, model: String? = nil) async throws -> RemoteBackend {
        if let model { return RemoteBackend(baseURL: baseURL, modelName: model, apiKey: apiKey) }
        let (object, _) = try await request(baseURL.appendingPathComponent("models"), body: nil, apiKey: apiKey)
        guard let models = object["data"] as? [[String: Any]], let first = models.first?["id"] as? String else {
            throw RemoteError(message: "\(baseURL.absoluteString)/models lists no model")
        }
        return RemoteBackend(baseURL: baseURL, modelName: first, apiKey: apiKey)
    }

    public func problem(with prompt: String) -> String? { nil }  // the server says, per request

    public func draw(_ prompt: String, parameters: GenerationParameters, englishOnly: Bool,
                     onText: (@Sendable (String) -> Void)?) async throws -> PitchDraw {
        var body: [String: Any] = [
            "model": modelName, "prompt": prompt, "max_tokens": parameters.maxNewTokens,
            "temperature": parameters.temperature, "top_p": parameters.topP, "top_k": parameters.topK, "min_p": parameters.minP,
            "repetition_penalty": parameters.repetitionPenalty, "presence_penalty": parameters.presencePenalty,
            "frequency_penalty": parameters.frequencyPenalty, "logprobs": 1,
        ]
        if let seed = parameters.seed { body["seed"] = NSNumber(value: seed) }
        if !parameters.stopAtEndOfText { body["ignore_eos"] = true }  // as llama.cpp's server and generate serve
        if !parameters.stopSequences.isEmpty { body["stop"] = parameters.stopSequences }
        if !parameters.logitBias.isEmpty {
            body["logit_bias"] = Dictionary(uniqueKeysWithValues: parameters.logitBias.map { (String($0.key), $0.value) })
        }
        let (object, _) = try await Self.request(baseURL.appendingPathComponent("completions"), body: body, apiKey: apiKey)
        guard let choice = (object["choices"] as? [[String: Any]])?.first, let text = choice["text"] as? String else {
            throw RemoteError(message: "the server's answer has no choices[0].text")
        }
        onText?(text)
        let usage = object["usage"] as? [String: Any]
        let logprobs = ((choice["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
        return PitchDraw(text: text, stopReason: choice["finish_reason"] as? String == "length" ? .maxTokens : .endOfText,
                         promptTokens: usage?["prompt_tokens"] as? Int ?? 0,
                         generatedTokens: usage?["completion_tokens"] as? Int ?? logprobs.count,
                         meanLogprob: logprobs.isEmpty ? 0 : logprobs.reduce(0, +) / Double(logprobs.count))
    }

    /// A JSON request; a server busy (429) is asked again after its Retry-After, up to 10 times.
    static func request(_ url: URL, body: [String: Any]?, apiKey: String?) async throws -> ([String: Any], Int) {
        var request = URLRequest(url: url, timeoutInterval: 600)
        request.httpMethod = body == nil ? "GET" : "POST"
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        var attempt = 0
        while true {
            attempt += 1
            let data: Data, response: URLResponse
            do {
                (data, response) = try await URLSession.shared.data(for: request)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw RemoteError(message: "\(url.absoluteString): \(error.localizedDescription)")
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            if status == 429 && attempt <= 10 {
                let wait = Double((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After") ?? "") ?? 1
                try await Task.sleep(for: .seconds(min(max(wait, 0.1), 30)))
                continue
            }
            guard status == 200 else {
                let message = (object["error"] as? [String: Any])?["message"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self)
                throw RemoteError(message: "the server answered \(status): \(message)", status: status)
            }
            return (object, status)
        }
    }
}

/// A failed request to a remote endpoint.
public struct RemoteError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    /// The HTTP status, if the server answered.
    public var status: Int?
    public var description: String { message }
    public var errorDescription: String? { message }

    init(message: String, status: Int? = nil) {
        self.message = message
        self.status = status
    }
}
