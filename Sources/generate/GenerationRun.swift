import Dispatch
import Foundation
import GPT2

/// One generation driven from the command line: text streamed to standard output as it comes,
/// and Ctrl-C stopping the token loop cleanly, keeping what was already written.
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
            for try await event in generator.stream(promptTokenIDs: promptIDs, parameters: parameters) {
                result.append(event)
                if printText, case .token(let token) = event, !token.text.isEmpty {
                    FileHandle.standardOutput.write(Data(token.text.utf8))
                }
            }
            return result
        }
        // Ctrl-C cancels the generation task; the loop notices before its next token.
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { task.cancel() }
        interrupt.resume()
        defer {
            interrupt.cancel()
            signal(SIGINT, SIG_DFL)
        }
        let result = try await task.value
        return Output(result: result, interrupted: task.isCancelled)
    }
}

/// The `--format json` object.
struct JSONReport {
    let promptIDs: [Int]
    let result: GenerationResult
    let promptLogprobs: [Double?]?
    let loadSeconds: Double

    func write() throws {
        let timings = result.summary.timings
        var object: [String: Any] = [
            "prompt_ids": promptIDs,
            "ids": result.tokenIDs,
            "text": result.text,
            "logprobs": result.logprobs,
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
            object["prompt_logprobs"] = promptLogprobs.map { $0.map { $0 as Any } ?? NSNull() }
        }
        var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        data.append(0x0a)
        FileHandle.standardOutput.write(data)
    }
}
