import ArgumentParser
import GPT2

@main
struct GPT2Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2-bench",
        abstract: "Benchmarks for swift-gpt2.",
        subcommands: [ModelBench.self, AttentionLab.self, TokenizerBench.self, SoakBench.self],
        defaultSubcommand: ModelBench.self
    )
}
