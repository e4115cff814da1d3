import ArgumentParser
import Foundation
import GPT2

/// `--batch FILE`: a whole customer list in one run. Every line is checked before the first
/// generation starts; results are written one JSON line each as each finishes, so an interrupted
/// run keeps every finished result (and the partial ones of the prompts it cut short).
enum BatchFile {
    struct Job: @unchecked Sendable {  // `id` is an immutable JSONSerialization value
        let line: Int
        let id: Any?
        let promptIDs: [Int]
    }

    static func read(path: String, tokenizer: GPT2Tokenizer) throws -> [Job] {
        let data = try InputText.read(path, flag: "--batch")
        let contents: String
        do {
            contents = try InputText.decode(data)
        } catch {
            let line = data.prefix(error.offset).count(where: { $0 == 0x0A }) + 1
            throw CLIError.data("--batch \(path), line \(line): not valid UTF-8")
        }
        var jobs: [Job] = []
        // "\r\n" is one Character in Swift: Windows line ends are split on too
        for (index, line) in contents.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
            let prompt: String
            var id: Any?
            if let string = value as? String {
                prompt = string
            } else if let object = value as? [String: Any], let string = object["prompt"] as? String {
                prompt = string
                id = object["id"]
            } else {
                throw CLIError.data("--batch \(path), line \(index + 1): expected a JSON string or an object with a \"prompt\" string")
            }
            jobs.append(Job(line: index + 1, id: id, promptIDs: TextGenerator.promptTokens(prompt, tokenizer: tokenizer)))
        }
        guard !jobs.isEmpty else { throw CLIError.data("--batch \(path): no prompts in the file") }
        return jobs
    }

    /// Runs every job through one generator, `parallel` at a time (they share its forward
    /// passes), and writes each result line as its generation finishes, in any order (each line
    /// names its `index`). With a fixed seed S, prompt i uses S + i, so each line is the same for
    /// every `parallel`.
    static func run(_ jobs: [Job], generator: TextGenerator, parameters: GenerationParameters, parallel: Int, echo: Bool,
                    quiet: Bool, loadSeconds: Double) async throws {
        for job in jobs {
            try check(job.promptIDs, generator: generator, place: "--batch, line \(job.line)")
        }
        let start = ContinuousClock.now
        let task = Task { () async throws -> (finished: Int, generated: Int) in
            try await withThrowingTaskGroup(of: (index: Int, result: GenerationResult).self) { group in
                var next = 0, finished = 0, generated = 0
                func launch() {
                    let index = next, promptIDs = jobs[index].promptIDs
                    var jobParameters = parameters
                    // a fixed --seed gives every prompt its own, reproducible stream
                    jobParameters.seed = parameters.seed.map { $0 &+ UInt64(index) }
                    group.addTask { [jobParameters] in
                        (index, try await generator.generate(promptTokenIDs: promptIDs, parameters: jobParameters))
                    }
                    next += 1
                }
                for _ in 0..<min(parallel, jobs.count) { launch() }
                while let (index, result) = try await group.next() {
                    let job = jobs[index]
                    let promptLogprobs = echo ? try generator.promptLogprobs(job.promptIDs) : nil
                    try JSONReport(promptIDs: job.promptIDs, result: result, promptLogprobs: promptLogprobs,
                                   loadSeconds: loadSeconds, extra: ["index": index, "line": job.line, "id": job.id ?? NSNull()]).write()
                    generated += result.summary.generatedTokenCount
                    if result.summary.stopReason != .cancelled { finished += 1 }
                    if next < jobs.count && !Task.isCancelled { launch() }
                }
                return (finished, generated)
            }
        }
        Interruption.shared.watch(task)
        let (finished, generated) = try await task.value
        let seconds = (ContinuousClock.now - start).seconds
        if !quiet {
            Console.err(String(format: "load %.2f s | %d of %d prompts finished | %d tokens generated, %.1f tok/s overall\n",
                               loadSeconds, finished, jobs.count, generated, seconds > 0 ? Double(generated) / seconds : 0))
        }
        if finished < jobs.count { throw ExitCode(130) }
    }
}
