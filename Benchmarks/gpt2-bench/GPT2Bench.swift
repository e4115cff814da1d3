import ArgumentParser
import Foundation
import GPT2
import GPT2Kernels

@main
struct GPT2Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2-bench",
        abstract: "Benchmarks for swift-gpt2.",
        version: SwiftGPT2.version,
        subcommands: [ModelBench.self, GenerateBench.self, AttentionLab.self, TokenizerBench.self, SoakBench.self, DecodeReadBench.self],
        defaultSubcommand: ModelBench.self
    )

    /// Runs the command, then ends without exit handlers (see `terminate` in the generate tool:
    /// OpenBLAS's can hang when the exit comes from a non-main thread).
    static func main() async {
        BLAS.restartIfOpenBLASMisreadTheCPU()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
        fflush(nil)
        _exit(0)
    }
}
