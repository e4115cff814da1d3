import Foundation
import GPT2
import Hummingbird

extension GPT2Server {
    /// `POST /v1/completions` and `/v1/chat/completions`.
    func completions(_ request: Request, chat: Bool) async throws -> (Response, Int?) {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(status: .contentTooLarge, message: "The request body is larger than \(configuration.maxBodyBytes) bytes.",
                           type: "invalid_request_error", param: nil, code: nil)
        } catch {
            throw APIError.invalid(nil, "The request body could not be read: \(error)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
            throw APIError.invalid(nil, "We could not parse the JSON body of your request: expected a JSON object.")
        }
        let parsed = try CompletionRequest(body: object, tokenizer: generator.tokenizer, chat: chat,
                                           defaults: generator.model.generationDefaults)
        guard configuration.modelNames.contains(parsed.model) else {
            throw APIError(status: .notFound, message: "The model `\(parsed.model)` does not exist. Served here: \(configuration.modelNames.joined(separator: ", ")).",
                           type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        for prompt in parsed.prompts {
            do {
                try generator.checkPrompt(prompt)
            } catch {
                throw APIError.invalid(chat ? "messages" : "prompt", "\(error)")
            }
        }
        do {
            try parsed.parameters.validate(vocabularySize: generator.model.config.vocabularySize)
        } catch {
            throw APIError.invalid(error.parameter.rawValue, error.description)
        }
        let jobs = Job.all(parsed)
        guard jobs.count <= admission.limit else {
            throw APIError.invalid("n", "\(jobs.count) completions in one request; this server takes at most \(admission.limit) at once")
        }
        // the places are given back when the ticket goes, whichever way the response ends
        guard let ticket = admission.enter(jobs.count) else {
            throw APIError(status: .tooManyRequests, message: "The server is busy: too many requests waiting. Retry shortly.",
                           type: "requests", param: nil, code: "rate_limit_exceeded", headers: [.init("Retry-After")!: "1"])
        }
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased()
        if parsed.stream {
            return (stream(jobs, parsed: parsed, id: id, chat: chat, request: request, ticket: ticket), nil)
        }
        defer { withExtendedLifetime(ticket) {} }
        let results: [Int: GenerationResult]
        do {
            // a client that closes its connection cancels the generations; the price is that the
            // connection is not kept alive after the response (said with `Connection: close`)
            results = try await request.body.consumeWithCancellationOnInboundClose { _ in
                let results = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
                    for job in jobs {
                        group.addTask { (job.index, try await generator.generate(promptTokenIDs: job.prompt, parameters: job.parameters)) }
                    }
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
                try Task.checkCancellation()
                return results
            }
        } catch is CancellationError {
            throw APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"), message: "The client closed the connection.",
                           type: "invalid_request_error", param: nil, code: nil)
        }
        var choices: [[String: Any]] = []
        var completionTokens = 0
        var promptLogprobs: [Int: [Double?]] = [:]  // echo: scored once per prompt, not per choice
        for job in jobs {
            let result = results[job.index]!
            completionTokens += result.tokenIDs.count
            var choice: [String: Any] = ["index": job.index, "finish_reason": Self.finishReason(result.summary.stopReason)]
            if chat {
                choice["message"] = ["role": "assistant", "content": String(result.text.drop(while: \.isWhitespace))]
                choice["logprobs"] = NSNull()
            } else {
                choice["text"] = (parsed.echo ? generator.tokenizer.decode(job.prompt) : "") + result.text
                var scored: [Double?]?
                if parsed.echo && parsed.logprobs != nil {
                    let prompt = job.index / parsed.n
                    scored = try promptLogprobs[prompt] ?? generator.promptLogprobs(job.prompt)
                    promptLogprobs[prompt] = scored
                }
                choice["logprobs"] = parsed.logprobs.map { _ in logprobs(result, prompt: job.prompt, promptLogprobs: scored) } ?? NSNull()
            }
            choices.append(choice)
        }
        let promptTokens = parsed.prompts.reduce(0) { $0 + $1.count }
        var response = JSON.response([
            "id": id, "object": chat ? "chat.completion" : "text_completion", "created": Int(Date().timeIntervalSince1970),
            "model": parsed.model, "choices": choices,
            "usage": ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens],
        ])
        response.headers[.connection] = "close"
        return (response, completionTokens)
    }

    /// One generation of a request: prompt p's choice i has index p × n + i and, with a seed,
    /// seed + i (so that the n choices differ).
    struct Job: Sendable {
        var index: Int
        var prompt: [Int]
        var parameters: GenerationParameters

        static func all(_ request: CompletionRequest) -> [Job] {
            request.prompts.enumerated().flatMap { p, prompt in
                (0..<request.n).map { i in
                    var parameters = request.parameters
                    parameters.seed = request.parameters.seed.map { $0 &+ UInt64(i) }
                    return Job(index: p * request.n + i, prompt: prompt, parameters: parameters)
                }
            }
        }
    }

    static func finishReason(_ reason: StopReason) -> String {
        switch reason {
        case .maxTokens, .contextFull: "length"
        case .endOfText, .stopSequence, .cancelled: "stop"
        }
    }

    /// The legacy completions `logprobs` object: each token's text, log-probability, the most
    /// likely tokens at its step (text to log-probability) and its offset in the text (with
    /// `echo`, the prompt's tokens first, without alternatives; the first has no log-probability).
    func logprobs(_ result: GenerationResult, prompt: [Int], promptLogprobs: [Double?]?) -> [String: Any] {
        var ids = result.tokenIDs, values: [Any] = result.logprobs
        var top: [Any] = result.topLogprobs.map(topLogprobs)
        if let promptLogprobs {
            ids = prompt + ids
            values = promptLogprobs.map { (value: Double?) -> Any in value ?? NSNull() } + values
            top = Array(repeating: NSNull(), count: prompt.count) + top
        }
        return logprobs(ids, values, top, offset: 0)
    }

    /// A `logprobs` object for some tokens, the first at character `offset` of the text.
    func logprobs(_ ids: [Int], _ values: [Any], _ top: [Any], offset: Int) -> [String: Any] {
        var offsets: [Int] = []
        var offset = offset
        let tokens = ids.map { id in
            let text = generator.tokenizer.decode([id])
            offsets.append(offset)
            offset += text.count
            return text
        }
        return ["tokens": tokens, "token_logprobs": values, "top_logprobs": top, "text_offset": offsets]
    }

    func topLogprobs(_ step: [TokenLogprob]) -> [String: Double] {
        Dictionary(step.map { (generator.tokenizer.decode([$0.id]), $0.logprob) }, uniquingKeysWith: max)
    }

    /// Server-sent events: one `data:` chunk per token with text, a last one per choice with its
    /// finish reason, then `data: [DONE]`. A client that goes away cancels the generations (the
    /// write fails, the streams are dropped).
    func stream(_ jobs: [Job], parsed: CompletionRequest, id: String, chat: Bool, request: Request,
                ticket: Admission.Ticket) -> Response {
        let start = ContinuousClock.now
        let created = Int(Date().timeIntervalSince1970)
        let object = chat ? "chat.completion.chunk" : "text_completion"
        @Sendable func chunk(_ index: Int, text: String?, finish: String?, first: Bool = false, logprobs: [String: Any]? = nil) -> ByteBuffer {
            var choice: [String: Any] = ["index": index, "finish_reason": finish ?? NSNull()]
            if chat {
                var delta: [String: Any] = first ? ["role": "assistant"] : [:]
                if let text { delta["content"] = text }
                choice["delta"] = delta
                choice["logprobs"] = NSNull()
            } else {
                choice["text"] = text ?? ""
                choice["logprobs"] = logprobs ?? NSNull()
            }
            let json = JSON.data(["id": id, "object": object, "created": created, "model": parsed.model, "choices": [choice]])
            return ByteBuffer(data: Data("data: ".utf8) + json + Data("\n\n".utf8))
        }
        let body = ResponseBody { [self] writer in
            defer { withExtendedLifetime(ticket) {} }
            let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
            let tokens = LockedCount(), failures = LockedCount()
            @Sendable func fail(_ error: any Error) {
                // after the 200 and some chunks, an error can only be an event of its own
                failures.add(1)
                let event = ["error": ["message": "\(error)", "type": "server_error", "param": NSNull(), "code": NSNull()] as [String: Any]]
                continuation.yield(ByteBuffer(data: Data("data: ".utf8) + JSON.data(event) + Data("\n\n".utf8)))
            }
            let producers = Task {
                // echo with logprobs: each prompt scored once, whatever n
                let promptScores: [[Double?]]
                do {
                    promptScores = parsed.echo && parsed.logprobs != nil ? try parsed.prompts.map { try generator.promptLogprobs($0) } : []
                } catch {
                    fail(error)
                    continuation.finish()
                    return
                }
                await withTaskGroup(of: Void.self) { group in
                    for job in jobs {
                        group.addTask {
                            if chat { continuation.yield(chunk(job.index, text: "", finish: nil, first: true)) }
                            var offset = 0  // of the next token's text, for logprobs
                            if parsed.echo {
                                var scored: [String: Any]?
                                if !promptScores.isEmpty {
                                    let values = promptScores[job.index / parsed.n].map { (value: Double?) -> Any in value ?? NSNull() }
                                    scored = logprobs(job.prompt, values, Array(repeating: NSNull(), count: job.prompt.count), offset: 0)
                                    offset = job.prompt.reduce(0) { $0 + generator.tokenizer.decode([$1]).count }  // as `logprobs` counts
                                }
                                continuation.yield(chunk(job.index, text: generator.tokenizer.decode(job.prompt), finish: nil, logprobs: scored))
                            }
                            var reason = "stop"
                            var started = !chat  // a chat reply starts at its first non-space, as when not streamed
                            do {
                                for try await event in generator.stream(promptTokenIDs: job.prompt, parameters: job.parameters) {
                                    switch event {
                                    case .token(let token):
                                        tokens.add(1)
                                        let text = started ? token.text : String(token.text.drop(while: \.isWhitespace))
                                        started = started || !text.isEmpty
                                        if parsed.logprobs != nil {
                                            // every token, even one whose text is held back (part of a character)
                                            let scored = logprobs([token.id], [token.logprob], [topLogprobs(token.topLogprobs)], offset: offset)
                                            offset += generator.tokenizer.decode([token.id]).count
                                            continuation.yield(chunk(job.index, text: text, finish: nil, logprobs: scored))
                                        } else if !text.isEmpty {
                                            continuation.yield(chunk(job.index, text: text, finish: nil))
                                        }
                                    case .finished(let summary):
                                        reason = Self.finishReason(summary.stopReason)
                                    }
                                }
                            } catch {
                                // cancelled: the stream ends without [DONE]; any other error says so
                                if !(Task.isCancelled || error is CancellationError) { fail(error) }
                                return
                            }
                            if !Task.isCancelled { continuation.yield(chunk(job.index, text: nil, finish: reason)) }
                        }
                    }
                }
                continuation.finish()
            }
            var status = 200
            do {
                // the response cancelled (the shutdown's grace ran out) cancels the generations too
                try await withTaskCancellationHandler {
                    for await buffer in chunks { try await writer.write(buffer) }
                    try Task.checkCancellation()  // a cut stream must not look finished
                    if failures.value > 0 {
                        status = 500
                    } else {
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    }
                    try await writer.finish(nil)
                } onCancel: {
                    producers.cancel()
                }
            } catch {
                status = 499  // the client went away, or the server is stopping: stop generating for it
                producers.cancel()
            }
            logLine(request, status: status, tokens: tokens.value, start: start)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// A count added to from several tasks.
final class LockedCount: @unchecked Sendable {  // `count` is guarded by `lock`
    private let lock = NSLock()
    private var count = 0

    func add(_ amount: Int) { lock.withLock { count += amount } }
    var value: Int { lock.withLock { count } }
}
