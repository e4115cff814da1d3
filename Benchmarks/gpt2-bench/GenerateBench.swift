import ArgumentParser
import Foundation
import GPT2

/// `gpt2-bench generate`: end-to-end throughput and latency through `TextGenerator` (tokenize,
/// prefill, sample, decode), with R requests kept P at a time in flight, for each P of
/// `--parallel`: what a server or a batch of customers sees.
struct GenerateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "End-to-end generation through TextGenerator at several levels of concurrency.",
        discussion: """
            Each level runs --requests requests, keeping --parallel of them in flight (a new one \
            starts as one ends), each with its own prompt of --n-prompt tokens and --n-gen new \
            tokens (greedy, past <|endoftext|>). Reported per level: total tokens/s (generated \
            tokens over the level's wall time), time to first token (submission to first token \
            event) and inter-token latency (gaps between a request's token events), as p50 and \
            p99 over all requests; and, over the steps where all --parallel sequences decode (no \
            prompt being read), the mean forward pass and the mean whole step (forward pass, \
            sampling and events): what the scheduler adds to the bare forward pass. With \
            --no-stream each request awaits its whole result instead of iterating its events \
            (one wake-up per request, not one per token; time to first token and inter-token \
            latency are then not measured, and print as 0).
            """
    )

    @Option(name: [.customShort("m"), .long], help: "Model directory.")
    var model: String

    @Option(name: [.customShort("P"), .customLong("parallel")], help: "Requests in flight at once, comma-separated.")
    var parallel = IntList([1, 8, 16])

    @Option(name: [.customShort("R"), .customLong("requests")], help: "Requests per level.")
    var requests = 16

    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt tokens per request.")
    var promptTokens = 64

    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Tokens generated per request.")
    var generatedTokens = 64

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Threads.")
    var threads = ComputeThreads.physicalCoreCount

    @Option(help: "Where float32 weights live: mapped or resident.")
    var weights: WeightResidency = .mapped

    @Option(help: "Precision of the weight matrices: f32, f16 or int8.")
    var precision: WeightPrecision = .float32

    @Flag(inversion: .prefixedNo, help: "Iterate each request's events as they come (else await its result).")
    var stream = true

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    func validate() throws {
        guard parallel.values.allSatisfy({ (1...256).contains($0) }) else { throw ValidationError("--parallel: each level must be in 1...256") }
        guard (1...100_000).contains(requests) else { throw ValidationError("--requests must be in 1...100000") }
        guard promptTokens >= 1, generatedTokens >= 1 else { throw ValidationError("--n-prompt and --n-gen must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        setThreads(effectiveThreads(threads))
        let directory = URL(fileURLWithPath: model)
        let loaded = try GPT2Model(directory: directory, residency: weights, precision: precision)
        let tokenizer = try GPT2Tokenizer(directory: directory)
        guard promptTokens + generatedTokens <= loaded.config.contextLength else {
            throw ValidationError("--n-prompt + --n-gen must fit the model's context (\(loaded.config.contextLength))")
        }
        var rows: [[String: Any]] = []
        for level in parallel.values {
            let generator = TextGenerator(model: loaded, tokenizer: tokenizer, maxBatchSize: level)
            let parameters = GenerationParameters(maxNewTokens: generatedTokens, temperature: 0, stopAtEndOfText: false)
            let vocabulary = loaded.config.vocabularySize
            let start = ContinuousClock.now
            let timings = try await withThrowingTaskGroup(of: RequestTimings.self) { group in
                var next = 0, all: [RequestTimings] = []
                func launch() {
                    // a prompt of its own per request: random ids, seeded by the request's number
                    var rng = SeededGenerator(seed: UInt64(next))
                    let prompt = (0..<promptTokens).map { _ in Int.random(in: 0..<min(vocabulary, 50_000), using: &rng) }
                    group.addTask { [stream] in
                        try await RequestTimings.measure(generator: generator, prompt: prompt, parameters: parameters, stream: stream)
                    }
                    next += 1
                }
                for _ in 0..<min(level, requests) { launch() }
                while let timing = try await group.next() {
                    all.append(timing)
                    if next < requests { launch() }
                }
                return all
            }
            let seconds = (ContinuousClock.now - start).seconds
            // the steps of `level` sequences decoding (no prompt read): the full batch's steps
            let full = generator.stepTimes.byRows[level] ?? StepTimes.Total()
            let forwardMs = full.steps > 0 ? full.forward / Double(full.steps) * 1e3 : 0
            let stepMs = full.steps > 0 ? full.step / Double(full.steps) * 1e3 : 0
            let generated = timings.reduce(0) { $0 + $1.tokens }
            let firsts = timings.map(\.firstToken), gaps = timings.flatMap(\.gaps)
            rows.append(["parallel": level, "requests": requests, "n_prompt": promptTokens, "n_gen": generatedTokens,
                         "threads": ComputeThreads.count, "tokens_per_s": Double(generated) / seconds, "seconds": seconds,
                         "ttft_p50_ms": percentile(firsts, 50) * 1e3, "ttft_p99_ms": percentile(firsts, 99) * 1e3,
                         "itl_p50_ms": percentile(gaps, 50) * 1e3, "itl_p99_ms": percentile(gaps, 99) * 1e3,
                         "full_steps": full.steps, "forward_ms": forwardMs, "step_ms": stepMs])
        }
        try printTable(rows, columns: ["parallel", "requests", "n_prompt", "n_gen", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms",
                                       "itl_p50_ms", "itl_p99_ms", "full_steps", "forward_ms", "step_ms"], format: format)
    }
}

/// When one request's events arrived.
struct RequestTimings: Sendable {
    /// Seconds from submission to the first token.
    var firstToken = 0.0
    /// Seconds between consecutive tokens.
    var gaps: [Double] = []
    var tokens = 0

    static func measure(generator: TextGenerator, prompt: [Int], parameters: GenerationParameters,
                        stream: Bool) async throws -> RequestTimings {
        var timings = RequestTimings()
        guard stream else {
            timings.tokens = try await generator.generate(promptTokenIDs: prompt, parameters: parameters).tokenIDs.count
            return timings
        }
        let start = ContinuousClock.now
        var last = start
        for try await event in generator.stream(promptTokenIDs: prompt, parameters: parameters) {
            guard case .token = event else { continue }
            let now = ContinuousClock.now
            if timings.tokens == 0 { timings.firstToken = (now - start).seconds } else { timings.gaps.append((now - last).seconds) }
            last = now
            timings.tokens += 1
        }
        return timings
    }
}

/// The `p`-th percentile of `values` (nearest rank); 0 for none.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

