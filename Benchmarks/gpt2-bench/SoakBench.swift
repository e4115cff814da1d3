import ArgumentParser
import Foundation
import GPT2

/// `gpt2-bench soak`: many successive generations from one loaded model, with the resident memory
/// after the first few and after the last, to show that finished (or cancelled) generations give
/// their memory back.
struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run many successive generations and report resident memory growth."
    )

    @Option(name: [.customShort("m"), .long], help: "Model directory (default: the bundled Models/sales-demo).")
    var model: String?

    @Option(help: "Generations to run.")
    var generations = 1000

    @Option(help: "Tokens per generation.")
    var maxTokens = 4

    @Option(help: "Generations before the baseline is taken (allocator pools and caches settle).")
    var warmup = 20

    @Flag(help: "Cancel every other generation after its first token instead of letting it finish.")
    var cancel = false

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    func validate() throws {
        guard generations > warmup, warmup >= 1 else { throw ValidationError("--generations must exceed --warmup, which must be at least 1") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
    }

    func run() async throws {
        let directory = model.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models/sales-demo")
        let generator = try TextGenerator(directory: directory)
        let prompt = "Customer: Olivia Brown, 34, nurse.\nProduct: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:"
        var baseline = 0
        var peakAfterBaseline = 0
        for i in 0..<generations {
            let parameters = GenerationParameters(maxNewTokens: maxTokens, seed: UInt64(i))
            if cancel && i % 2 == 1 {
                let task = Task {
                    for try await event in generator.stream(prompt: prompt, parameters: parameters) {
                        if case .token = event { break }  // leaving the loop ends the stream and its token loop
                    }
                }
                try await task.value
            } else {
                _ = try await generator.generate(prompt: prompt, parameters: parameters)
            }
            if i + 1 == warmup { baseline = residentBytes() }
            if i + 1 > warmup { peakAfterBaseline = max(peakAfterBaseline, residentBytes()) }
        }
        let growth = Double(peakAfterBaseline - baseline) / 1e6
        let row: [String: Any] = ["generations": generations, "max_tokens": maxTokens, "warmup": warmup, "cancel_every_other": cancel,
                                  "rss_baseline_mb": Double(baseline) / 1e6, "rss_max_after_mb": Double(peakAfterBaseline) / 1e6,
                                  "growth_mb": growth]
        try printTable([row], columns: ["generations", "max_tokens", "cancel_every_other", "rss_baseline_mb", "rss_max_after_mb", "growth_mb"],
                       format: format)
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
