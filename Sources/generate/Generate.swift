import ArgumentParser
import GPT2

@main
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a GPT-2 checkpoint."
    )
    func run() throws {}
}
