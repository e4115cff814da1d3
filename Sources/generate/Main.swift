import ArgumentParser
import Foundation
import GPT2

@main
struct GenerateTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Text and sales pitches from a GPT-2 checkpoint (by default the bundled sales-pitch demo model).",
        discussion: "Exit codes: \(exitCodes)",
        version: SwiftGPT2.version,
        subcommands: [Generate.self, PitchCommand.self, ReviewCommand.self, ServeCommand.self],
        defaultSubcommand: Generate.self
    )

    static let exitCodes = """
        0 success; 64 bad usage or option value; 65 bad data (a prompt too long, a token id outside \
        the vocabulary, input that is not UTF-8, malformed model files; for pitch, customers \
        rejected, after the others were done); 66 a file or directory that does not exist; 74 a \
        failed read or write (e.g. a full disk); 130 interrupted (Ctrl-C or SIGTERM), after \
        writing what was finished.
        """

    /// Parses and runs the command, turning every user error into one line on standard error and
    /// an exit code (see `exitCodes`); help and version requests print as usual.
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
            terminate(code == .validationFailure ? 64 : code.rawValue)
        }
    }
}
