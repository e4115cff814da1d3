import ArgumentParser
import Foundation
import GPT2

/// `generate text` (the default command): a continuation of one prompt, or of every prompt of a
/// `--batch` file.
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Continue a prompt (the default command: `generate PROMPT` is `generate text PROMPT`).",
        discussion: """
            The prompt comes from the PROMPT argument, --prompt-file, --prompt-ids, or standard input. \
            Text streams to standard output; a one-line summary goes to standard error. \
            \(GenerateTool.samplingDefaults)

            Exit codes: \(GenerateTool.exitCodes)
            """
    )

    @Argument(help: "The prompt. Without it, --prompt-file, --prompt-ids or standard input is read.")
    var prompt: String?

    @Option(help: ArgumentHelp("Read the prompt from this file.", valueName: "path"))
    var promptFile: String?

    @Option(help: ArgumentHelp("The prompt as comma-separated token ids, e.g. 15496,11,995.", valueName: "ids"))
    var promptIds: String?

    @Option(help: ArgumentHelp("Generate for every prompt of a JSON Lines file (each line a JSON string, or an object with \"prompt\" and optionally \"id\"); writes one JSON object per line as each finishes.", valueName: "path"))
    var batch: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --batch: prompts generated at once, sharing each forward pass (1...16; default: the library's, \(TextGenerator.defaultMaxBatchSize)).", valueName: "n"))
    var parallel: Int = TextGenerator.defaultMaxBatchSize

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(help: "Output: text (streamed) or json (one object at the end).")
    var format: OutputFormat = .text

    @Flag(help: "With --format json: add prompt_logprobs, the log-probability of each prompt token.")
    var echo = false

    @Flag(help: "Print the prompt's token ids as a JSON array and exit.")
    var tokenize = false

    @Flag(name: [.short, .long], help: "Do not print the summary line on standard error.")
    var quiet = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    /// The flags over the model's defaults (its generation_config.json) over the library's.
    func parameters(_ model: GPT2Model) -> GenerationParameters { sampling.parameters(model.defaultParameters) }

    func validate() throws {
        let sources = [prompt != nil, promptFile != nil, promptIds != nil, batch != nil].filter { $0 }.count
        if !(1...16).contains(parallel) { throw ValidationError("--parallel \(parallel): must be in 1...16") }
        if sources > 1 { throw ValidationError("give the prompt one way only: PROMPT, --prompt-file, --prompt-ids or --batch") }
        if echo && format != .json && batch == nil { throw ValidationError("--echo needs --format json (or --batch)") }
        if tokenize && batch != nil { throw ValidationError("--tokenize takes one prompt, not --batch") }
    }

    func run() async throws {
        Interruption.shared.install()
        let directory = try await modelOptions.locate().directory

        let loadStart = ContinuousClock.now
        let tokenizer = try CLIError.loading { try GPT2Tokenizer(directory: directory) }
        if let batch {
            let jobs = try BatchFile.read(path: batch, tokenizer: tokenizer)
            let model = try modelOptions.load(directory, tokenizer: tokenizer, longRun: true)
            try sampling.check(vocabularySize: model.config.vocabularySize)
            let generator = TextGenerator(model: model, tokenizer: tokenizer, maxBatchSize: parallel)
            try await BatchFile.run(jobs, generator: generator, parameters: parameters(model), parallel: parallel, echo: echo,
                                    quiet: quiet, loadSeconds: (ContinuousClock.now - loadStart).seconds)
            return
        }
        let promptIDs = try readPromptIDs(tokenizer: tokenizer)
        if tokenize {
            try Console.out("[" + promptIDs.map(String.init).joined(separator: ", ") + "]\n")
            return
        }
        let model = try modelOptions.load(directory, tokenizer: tokenizer, longRun: false)
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        try sampling.check(vocabularySize: model.config.vocabularySize)
        let generator = TextGenerator(model: model, tokenizer: tokenizer)
        try check(promptIDs, generator: generator, place: promptSource)

        let output = try await GenerationRun.stream(generator: generator, promptIDs: promptIDs,
                                                    parameters: parameters(model), printText: format == .text)
        if format == .json {
            let promptLogprobs = echo ? try generator.promptLogprobs(promptIDs) : nil
            try JSONReport(promptIDs: promptIDs, result: output.result, promptLogprobs: promptLogprobs,
                           loadSeconds: loadSeconds).write()
        } else if !output.result.text.hasSuffix("\n") {
            try Console.out("\n")
        }
        if !quiet {
            let timings = output.result.summary.timings
            Console.err(String(
                format: "load %.2f s | prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s | stop: %@\n",
                loadSeconds, promptIDs.count, timings.promptTokensPerSecond,
                output.result.summary.generatedTokenCount, timings.generationTokensPerSecond,
                output.result.summary.stopReason.rawValue))
        }
        if output.interrupted { throw ExitCode(130) }
    }

    /// Where the prompt came from, as an error message names it.
    var promptSource: String {
        if promptIds != nil { return "--prompt-ids" }
        if prompt != nil { return "PROMPT" }
        if let promptFile { return "--prompt-file \(promptFile)" }
        return "standard input"
    }

    func readPromptIDs(tokenizer: GPT2Tokenizer) throws -> [Int] {
        if let promptIds {
            let parts = promptIds.split(separator: ",", omittingEmptySubsequences: false)
            let ids = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, ids.allSatisfy({ $0 != nil }) else {
                throw CLIError.usage("--prompt-ids \"\(promptIds)\": expected comma-separated integers, e.g. 15496,11,995")
            }
            return ids.map { $0! }
        }
        let text: String
        if let prompt {
            text = prompt
        } else if let promptFile {
            text = try InputText.text(of: InputText.read(promptFile, flag: "--prompt-file"), from: "--prompt-file \(promptFile)")
        } else if isatty(STDIN_FILENO) == 0 {
            text = try InputText.text(of: Console.readInput(), from: "standard input")
        } else {
            throw CLIError.usage("no prompt: give PROMPT, --prompt-file, --prompt-ids, or pipe it on standard input")
        }
        return TextGenerator.promptTokens(text, tokenizer: tokenizer)
    }

}

/// Flushes standard output and ends the process without running exit handlers: OpenBLAS 0.3.21's
/// handler joins its worker threads and can hang forever when the exit comes from a thread other
/// than the main one (seen here after Ctrl-C), and nothing of ours needs an exit handler.
func terminate(_ code: Int32) -> Never {
    fflush(nil)
    _exit(code)
}

/// The library's prompt check (``TextGenerator/checkPrompt(_:)``) as a data error naming `place`.
func check(_ promptIDs: [Int], generator: TextGenerator, place: String) throws {
    do {
        try generator.checkPrompt(promptIDs)
    } catch {
        throw CLIError.data("\(place): \(error)")
    }
}

