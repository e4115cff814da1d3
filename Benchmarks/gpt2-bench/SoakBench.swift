import ArgumentParser
import Foundation
import GPT2

/// `gpt2-bench soak`: many generations from one loaded model, `--parallel` at a time through its
/// scheduler, with the resident memory after the first few and after the last, to show that
/// finished (or cancelled) generations give their memory back and leave no sequence behind.
struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run many generations, several at a time, and report resident memory growth."
    )

    @Option(name: [.customShort("m"), .long], help: "Model directory (default: the bundled Models/sales-demo).")
    var model: String?

    @Option(help: "Generations to run.")
    var generations = 1000

    @Option(help: "Tokens per generation.")
    var maxTokens = 4

    @Option(help: "Generations before the baseline is taken (allocator pools and caches settle).")
    var warmup = 20

    @Flag(help: "Cancel every other generation at a random point (while it waits, or after 0...max-tokens tokens) instead of letting it finish.")
    var cancel = false

    @Option(help: "Generations in flight at once (the generator's batch size).")
    var parallel = 8

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    func validate() throws {
        guard generations > warmup, warmup >= 1 else { throw ValidationError("--generations must exceed --warmup, which must be at least 1") }
        guard (0...100_000).contains(maxTokens) else { throw ValidationError("--max-tokens must be in 0...100000") }
        guard (1...16).contains(parallel) else { throw ValidationError("--parallel must be in 1...16") }
    }

    func run() async throws {
        let directory = model.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models/sales-demo")
        let generator = try TextGenerator(directory: directory, maxBatchSize: parallel)
        let prompt = "Customer: Olivia Brown, 34, nurse.\nProduct: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:"
        var baseline = 0
        var peakAfterBaseline = 0
        var random = SeededGenerator(seed: 2026)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<generations {
                if i >= parallel { try await group.next() }  // keep `parallel` in flight
                let parameters = GenerationParameters(maxNewTokens: maxTokens, seed: UInt64(i))
                // every other one is cancelled after a random number of tokens (0: at once, maybe still waiting)
                let cancelAfter = cancel && i % 2 == 1 ? Int.random(in: 0...maxTokens, using: &random) : nil
                group.addTask {
                    var tokens = 0
                    for try await event in generator.stream(prompt: prompt, parameters: parameters) {
                        if tokens == cancelAfter { break }  // leaving the loop ends the stream and its sequence
                        if case .token = event { tokens += 1 }
                    }
                }
                if i + 1 == warmup { baseline = residentBytes() }
                if i + 1 > warmup { peakAfterBaseline = max(peakAfterBaseline, residentBytes()) }
            }
            try await group.waitForAll()
        }
        // a cancelled stream's sequence leaves at the scheduler's next step
        let deadline = ContinuousClock.now + .seconds(10)
        while generator.activeSequenceCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        peakAfterBaseline = max(peakAfterBaseline, residentBytes())
        let growth = Double(peakAfterBaseline - baseline) / 1e6
        let row: [String: Any] = ["generations": generations, "max_tokens": maxTokens, "warmup": warmup, "cancel_every_other": cancel,
                                  "parallel": parallel, "rss_baseline_mb": Double(baseline) / 1e6,
                                  "rss_max_after_mb": Double(peakAfterBaseline) / 1e6, "growth_mb": growth,
                                  "live_sequences_after": generator.activeSequenceCount]
        try printTable([row], columns: ["generations", "max_tokens", "cancel_every_other", "parallel", "rss_baseline_mb",
                                        "rss_max_after_mb", "growth_mb", "live_sequences_after"], format: format)
    }
}

/// Current resident set size of this process, in bytes (Linux: /proc/self/statm; elsewhere the peak).
func residentBytes() -> Int {
    #if os(Linux)
    if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
       let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
    #endif
    return peakResidentBytes()
}
