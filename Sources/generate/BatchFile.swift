import ArgumentParser
import Foundation
import GPT2

/// `--batch FILE`: a whole customer list in one run. Every line is checked before the first
/// generation starts; results are written one JSON line each, in order, as each finishes, so an
/// interrupted run keeps every finished result.
enum BatchFile {
    struct Job {
        let line: Int
        let id: Any?
        let promptIDs: [Int]
    }

    static func read(path: String, tokenizer: GPT2Tokenizer) throws -> [Job] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError.noInput("--batch \(path): no such readable file")
        }
        let contents: String
        do {
            contents = try InputText.decode(data)
        } catch {
            let line = data.prefix(error.offset).count(where: { $0 == 0x0A }) + 1
            throw CLIError.data("--batch \(path), line \(line): not valid UTF-8")
        }
        var jobs: [Job] = []
        for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
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
            let ids = tokenizer.encode(prompt)
            jobs.append(Job(line: index + 1, id: id, promptIDs: ids.isEmpty ? [tokenizer.endOfTextID] : ids))
        }
        guard !jobs.isEmpty else { throw CLIError.data("--batch \(path): no prompts in the file") }
        return jobs
    }

    static func run(_ jobs: [Job], generator: TextGenerator, parameters: GenerationParameters, echo: Bool,
                    quiet: Bool, loadSeconds: Double) async throws {
        for job in jobs {
            try checkLength(job.promptIDs, model: generator.model, where: "the prompt on line \(job.line) of --batch")
        }
        var generated = 0
        var seconds = 0.0
        var finished = 0
        for (index, job) in jobs.enumerated() {
            if Interruption.shared.isRequested { break }
            var jobParameters = parameters
            // a fixed --seed gives every prompt its own, reproducible stream
            jobParameters.seed = parameters.seed.map { $0 &+ UInt64(index) }
            let output = try await GenerationRun.stream(generator: generator, promptIDs: job.promptIDs,
                                                        parameters: jobParameters, printText: false)
            let promptLogprobs = echo ? try generator.promptLogprobs(job.promptIDs) : nil
            try JSONReport(promptIDs: job.promptIDs, result: output.result, promptLogprobs: promptLogprobs,
                           loadSeconds: loadSeconds, extra: ["index": index, "line": job.line, "id": job.id ?? NSNull()]).write()
            generated += output.result.summary.generatedTokenCount
            seconds += output.result.summary.timings.promptSeconds + output.result.summary.timings.generationSeconds
            if output.interrupted { break }
            finished += 1
        }
        if !quiet {
            Console.err(String(format: "load %.2f s | %d of %d prompts finished | %d tokens generated, %.1f tok/s overall\n",
                               loadSeconds, finished, jobs.count, generated, seconds > 0 ? Double(generated) / seconds : 0))
        }
        if finished < jobs.count { throw ExitCode(130) }
    }
}
