import Dispatch
import Foundation
import GPT2

/// Ctrl-C (and SIGTERM) handling for the whole run: before generation starts it ends the process
/// at once (nothing has been written); during generation it cancels the generation task, whose
/// loop stops before its next token, and the command then writes out what it has and exits 130.
/// The request is remembered: a Ctrl-C that lands between two generations of a batch (after one
/// task has finished, before the next is watched) cancels the next one instead of being lost.
final class Interruption: @unchecked Sendable {  // `cancel` and `requested` are guarded by `lock`
    static let shared = Interruption()
    private let lock = NSLock()
    private var cancel: (@Sendable () -> Void)?
    private var requested = false
    private var sources: [DispatchSourceSignal] = []

    /// Starts catching SIGINT and SIGTERM.
    func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                let cancelRunning = cancel
                if cancelRunning != nil { requested = true }
                lock.unlock()
                guard let cancelRunning else {
                    Console.err("generate: interrupted\n")
                    terminate(130)
                }
                cancelRunning()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The generation (or batch of them) that Ctrl-C should cancel from now on.
    func watch<Success>(_ task: Task<Success, any Error>) {
        lock.lock()
        cancel = { task.cancel() }
        let cancelNow = requested
        lock.unlock()
        if cancelNow { task.cancel() }
    }

    /// Ctrl-C came during generation.
    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }
}

/// One generation driven from the command line: text streamed to standard output as it comes.
enum GenerationRun {
    struct Output {
        var result: GenerationResult
        /// Ctrl-C ended the generation.
        var interrupted: Bool
    }

    static func stream(generator: TextGenerator, promptIDs: [Int], parameters: GenerationParameters,
                       printText: Bool) async throws -> Output {
        let task = Task { () async throws -> GenerationResult in
            var result = GenerationResult(promptTokenIDs: promptIDs)
            var clock = EventClock()
            for try await event in generator.stream(promptTokenIDs: promptIDs, parameters: parameters) {
                clock.record(event)
                result.append(event)
                if printText, case .token(let token) = event, !token.text.isEmpty {
                    try Console.out(token.text)
                }
            }
            // Ctrl-C cancels this task, and a cancelled stream ends without `.finished` and its timings
            if !clock.finished { clock.measure(&result.summary.timings, promptTokens: promptIDs.count) }
            return result
        }
        Interruption.shared.watch(task)
        let result = try await task.value
        return Output(result: result, interrupted: task.isCancelled)
    }
}

/// When the events of a stream arrived, for the timings of a stream that ended without
/// `.finished`: the prompt phase lasts until the first token arrives, the generation phase from
/// then until the last one, and the generation rate counts the tokens after the first (the first
/// came out of the prompt's forward pass).
struct EventClock {
    private let start = ContinuousClock.now
    private var firstToken: ContinuousClock.Instant?
    private var lastToken: ContinuousClock.Instant?
    private var tokens = 0
    /// A `.finished` event arrived: the library's own timings are there.
    private(set) var finished = false

    mutating func record(_ event: GenerationEvent) {
        switch event {
        case .token:
            let now = ContinuousClock.now
            if firstToken == nil { firstToken = now }
            lastToken = now
            tokens += 1
        case .finished:
            finished = true
        }
    }

    /// Sets `timings` from the events seen; left as they are (zero) if no token arrived.
    func measure(_ timings: inout GenerationTimings, promptTokens: Int) {
        guard let firstToken, let lastToken else { return }
        timings.promptSeconds = (firstToken - start).seconds
        timings.generationSeconds = (lastToken - firstToken).seconds
        timings.promptTokensPerSecond = timings.promptSeconds > 0 ? Double(promptTokens) / timings.promptSeconds : 0
        timings.generationTokensPerSecond = timings.generationSeconds > 0 ? Double(tokens - 1) / timings.generationSeconds : 0
    }
}

/// The `--format json` object.
struct JSONReport {
    let promptIDs: [Int]
    let result: GenerationResult
    let promptLogprobs: [Double?]?
    let loadSeconds: Double
    /// More keys for the object (the line of a --batch run).
    var extra: [String: Any] = [:]

    func write() throws {
        let timings = result.summary.timings
        var object: [String: Any] = [
            "prompt_ids": promptIDs,
            "ids": result.tokenIDs,
            "text": result.text,
            "logprobs": result.logprobs.map(Self.number),
            "stop_reason": result.summary.stopReason.rawValue,
            "timings": [
                "load_s": loadSeconds,
                "prompt_s": timings.promptSeconds,
                "generation_s": timings.generationSeconds,
                "prompt_tokens_per_s": timings.promptTokensPerSecond,
                "generation_tokens_per_s": timings.generationTokensPerSecond,
            ],
        ]
        if let promptLogprobs {
            object["prompt_logprobs"] = promptLogprobs.map { $0.map(Self.number) ?? NSNull() }
        }
        object.merge(extra) { _, new in new }
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) + [0x0a]
        } catch {
            throw CLIError.data("the result cannot be written as JSON: \(error)")
        }
        try Console.out(data)
    }

    /// A log-probability for JSON, which has no infinities: one that is not finite (none should
    /// be: the model's logits are checked) is written as null rather than failing the line.
    static func number(_ value: Double) -> Any {
        value.isFinite ? value : NSNull()
    }
}
