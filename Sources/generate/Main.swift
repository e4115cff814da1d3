import ArgumentParser
import Foundation
import GPT2
import GPT2Kernels
import Synchronization

@main
struct GenerateTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Text and sales pitches from a GPT-2 checkpoint (by default the bundled sales-pitch demo model).",
        discussion: """
            \(samplingDefaults)

            Exit codes: \(exitCodes)
            """,
        version: SwiftGPT2.version,
        subcommands: [Generate.self, PitchCommand.self, ReviewCommand.self, ServeCommand.self, ModelsCommand.self],
        defaultSubcommand: Generate.self
    )

    static let samplingDefaults = """
        Sampling defaults come from the model's generation_config.json where it sets them \
        (do_sample, temperature, top_k, top_p, min_p, repetition_penalty, max_new_tokens, \
        stop_strings); a flag given always wins.
        """

    static let exitCodes = """
        0 success; 64 bad usage or option value; 65 bad data (a prompt too long, a token id outside \
        the vocabulary, input that is not UTF-8, malformed model files, a repository that is not \
        GPT-2; for pitch, customers rejected, after the others were done); 66 a file, directory, \
        repository or revision that does not exist (or a repository not in the cache, offline); \
        69 the Hugging Face Hub unreachable; 77 the hub refused access (set HF_TOKEN); 74 a \
        failed read or write (e.g. a full disk), or no memory for the weights; 70 an internal \
        error (a bug: please report it); 130 interrupted (Ctrl-C or SIGTERM), after writing what was finished.
        """

    /// Parses and runs the command, turning every user error into one line on standard error and
    /// an exit code (see `exitCodes`); help and version requests print as usual.
    static func main() async {
        BLAS.restartIfOpenBLASMisreadTheCPU()
        // Swift would repair them silently (U+FFFD), where the same bytes in a file are refused
        for index in 1..<max(Int(CommandLine.argc), 1) where CommandLine.unsafeArgv[index].flatMap({ String(validatingCString: $0) }) == nil {
            Console.err("generate: error: argument \(index) is not valid UTF-8\n")
            terminate(65)
        }
        signal(SIGXFSZ, SIG_IGN)  // over a file-size limit, a write fails (EFBIG, exit 74) instead of killing the process
        handleTruncatedModelFiles()
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
        } catch let error as GenerationError {
            // a request the model could not continue (non-finite logits): the model's data is bad
            Console.err("generate: error: \(error)\n")
            terminate(65)
        } catch let error as ExitCode {
            terminate(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let line = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            Console.err("generate: error: \(line)\n")
            // any error not mapped to a code of the table above is a bug: EX_SOFTWARE, not 1
            terminate(code == .validationFailure ? 64 : 70)
        }
    }
}

private let sigbusReported = Atomic<Bool>(false)

/// A mapped model file truncated while in use makes the next read of a lost page raise SIGBUS:
/// one line and exit 74 instead of a crash report. Only async-signal-safe calls in the handler.
private func handleTruncatedModelFiles() {
    _ = sigbusReported.load(ordering: .relaxed)  // initialised here: never lazily, in the handler
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
        // several threads can read lost pages at once: one line, from the first
        if sigbusReported.exchange(true, ordering: .acquiringAndReleasing) {
            while true { pause() }  // until the first one's _exit ends the process
        }
        let message: StaticString = "generate: error: a model file mapped into memory was truncated while in use (SIGBUS); leave model files unchanged while generate runs, or load them with --weights resident\n"
        message.withUTF8Buffer { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }  // no allocation
        _exit(74)
    }
    sigemptyset(&action.sa_mask)
    sigaction(SIGBUS, &action, nil)
}
