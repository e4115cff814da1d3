import ArgumentParser
import Foundation
import GPT2

@main
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a GPT-2 checkpoint (by default the bundled sales-pitch demo model).",
        discussion: """
            The prompt comes from the PROMPT argument, --prompt-file, --prompt-ids, or standard input. \
            Text streams to standard output; a one-line summary goes to standard error.

            Exit codes: 0 success; 64 bad usage or option value; 65 bad data (prompt too long, \
            token id outside the vocabulary, input that is not UTF-8, malformed model files); 66 a \
            file or directory that does not exist; 74 a failed write to standard output (e.g. a \
            full disk) or read from standard input; 130 interrupted (Ctrl-C), after writing what \
            was generated.
            """,
        version: SwiftGPT2.version
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

    @Option(help: ArgumentHelp("Model directory (config.json, model.safetensors, tokenizer files). Default: $GPT2_MODEL_DIR, else the bundled Models/sales-demo.", valueName: "dir"))
    var model: String?

    // The sampling defaults are the library's (GenerationParameters()); help shows them.
    @Option(parsing: .unconditional, help: "Most tokens to generate.")
    var maxTokens: Int = GenerationParameters().maxNewTokens

    @Option(parsing: .unconditional, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = GenerationParameters().temperature

    @Option(parsing: .unconditional, help: "Keep only the k most likely tokens; 0 turns it off.")
    var topK: Int = GenerationParameters().topK

    @Option(parsing: .unconditional, help: "Keep the most likely tokens up to this cumulative probability; 1 turns it off.")
    var topP: Float = GenerationParameters().topP

    @Option(parsing: .unconditional, help: "Keep tokens at least this fraction as likely as the most likely one; 0 turns it off.")
    var minP: Float = GenerationParameters().minP

    @Option(parsing: .unconditional, help: "Repetition penalty (CTRL rule); 1 turns it off.")
    var repetitionPenalty: Float = GenerationParameters().repetitionPenalty

    @Option(parsing: .unconditional, help: "Presence penalty (OpenAI rule); 0 turns it off.")
    var presencePenalty: Float = GenerationParameters().presencePenalty

    @Option(parsing: .unconditional, help: "Frequency penalty (OpenAI rule); 0 turns it off.")
    var frequencyPenalty: Float = GenerationParameters().frequencyPenalty

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

    @Option(help: ArgumentHelp("Stop when this text appears; it is not printed. Repeatable.", valueName: "text"))
    var stop: [String] = []

    @Flag(help: "Keep generating past <|endoftext|>.")
    var ignoreEos = false

    @Option(parsing: .unconditional, help: "Threads for the matrix products (default: the number of physical cores).")
    var threads: Int?

    @Option(help: "Weight matrices in f32, or f16: half the memory and faster generation; float32 checkpoints are then rounded to float16, which moves the logits slightly (float16 ones, like the demo model, are unchanged).")
    var precision: WeightPrecision = .float32

    @Option(help: "Weights mapped from the file (instant load) or resident (copied into the process's memory, in huge pages, float32 matrices transposed: a slower load, faster decoding, and they cannot be evicted with the page cache).")
    var weights: WeightResidency = .mapped

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

    var parameters: GenerationParameters {
        GenerationParameters(maxNewTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, minP: minP,
                             repetitionPenalty: repetitionPenalty, presencePenalty: presencePenalty,
                             frequencyPenalty: frequencyPenalty,
                             logitBias: Dictionary(logitBias, uniquingKeysWith: { _, last in last }),
                             bannedStrings: ban, seed: seed, stopSequences: stop, stopAtEndOfText: !ignoreEos)
    }

    func validate() throws {
        try checkParameters(vocabularySize: nil)
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): must be at least 1") }
        if !(1...16).contains(parallel) { throw ValidationError("--parallel \(parallel): must be in 1...16") }
        let sources = [prompt != nil, promptFile != nil, promptIds != nil, batch != nil].filter { $0 }.count
        if sources > 1 { throw ValidationError("give the prompt one way only: PROMPT, --prompt-file, --prompt-ids or --batch") }
        if echo && format != .json && batch == nil { throw ValidationError("--echo needs --format json (or --batch)") }
        if tokenize && batch != nil { throw ValidationError("--tokenize takes one prompt, not --batch") }
    }

    /// The sampling options against their ranges (and, once the model is loaded, token ids against
    /// its vocabulary), as a usage error naming the flag.
    func checkParameters(vocabularySize: Int?) throws {
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
        }
    }

    func run() async throws {
        Interruption.shared.install()
        let directory = try ModelLocator.directory(option: model)
        ComputeThreads.count = threads ?? ComputeThreads.physicalCoreCount

        let loadStart = ContinuousClock.now
        let tokenizer = try CLIError.loading { try GPT2Tokenizer(directory: directory) }
        if let batch {
            let jobs = try BatchFile.read(path: batch, tokenizer: tokenizer)
            let model = try CLIError.loading { try GPT2Model(directory: directory, residency: weights, precision: precision) }
            try checkParameters(vocabularySize: model.config.vocabularySize)
            let generator = TextGenerator(model: model, tokenizer: tokenizer, maxBatchSize: parallel)
            try await BatchFile.run(jobs, generator: generator, parameters: parameters, parallel: parallel, echo: echo,
                                    quiet: quiet, loadSeconds: (ContinuousClock.now - loadStart).seconds)
            return
        }
        let promptIDs = try readPromptIDs(tokenizer: tokenizer)
        if tokenize {
            try Console.out("[" + promptIDs.map(String.init).joined(separator: ", ") + "]\n")
            return
        }
        let model = try CLIError.loading { try GPT2Model(directory: directory, residency: weights, precision: precision) }
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        try checkParameters(vocabularySize: model.config.vocabularySize)
        let generator = TextGenerator(model: model, tokenizer: tokenizer)
        try check(promptIDs, generator: generator, place: promptIds != nil ? "--prompt-ids" : "the prompt")

        let output = try await GenerationRun.stream(generator: generator, promptIDs: promptIDs,
                                                    parameters: parameters, printText: format == .text)
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
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw CLIError.noInput("--prompt-file \(promptFile): no such readable file")
            }
            text = try InputText.text(of: data, from: "--prompt-file \(promptFile)")
        } else if isatty(STDIN_FILENO) == 0 {
            text = try InputText.text(of: Console.readInput(), from: "standard input")
        } else {
            throw CLIError.usage("no prompt: give PROMPT, --prompt-file, --prompt-ids, or pipe it on standard input")
        }
        return TextGenerator.promptTokens(text, tokenizer: tokenizer)
    }

    /// Parses and runs the command, turning every user error into one line on standard error and
    /// an exit code (see `discussion`); help and version requests print as usual.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            terminate(0)
        } catch let error as CLIError {
            Console.err("generate: error: \(error.message)\n")
            terminate(error.code)
        } catch let error as ExitCode {
            terminate(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let line = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            Console.err("generate: error: \(line)\n")
            terminate(code == .validationFailure ? 64 : code.rawValue)
        }
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


// `--precision` and `--weights` take the enums' raw values (f32/f16, mapped/resident)
extension WeightPrecision: ExpressibleByArgument {}
extension WeightResidency: ExpressibleByArgument {}
