import ArgumentParser
import Foundation
import GPT2

/// `gpt2-bench model`: prompt processing (ppN) and text generation (tgN) tokens/s, llama-bench style.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prompt-processing and generation tokens/s of a model, llama-bench style.",
        discussion: """
            ppN processes an N-token prompt in one forward pass into an empty cache (logits of the last
            position only); tgN generates N tokens one forward pass at a time from an empty cache. With
            -b B, B sequences run together (pp: B prompts in one pass; tg: one pass per step for all
            B), and tokens/s counts all of them. As in llama-bench, the timed region holds only the
            forward passes: token ids are random, nothing is tokenized or sampled. Each test runs once
            untimed, then -r times; the table gives mean ± sample standard deviation.

            The read bandwidth of the machine is measured in the same run (threads summing 1 GB; the
            fastest of 5 passes), and each single-sequence tg row reports its speed as a share of the
            bandwidth bound: bandwidth ÷ bytes of weights one decode step reads.
            """
    )

    @Option(name: [.customShort("m"), .customLong("model")], help: "Model directories, comma-separated.")
    var models: String

    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt sizes.")
    var prompts = IntList([512])

    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generation sizes.")
    var generations = IntList([128])

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Thread counts.")
    var threads = IntList([BLASBackend.physicalCoreCount])

    @Option(name: [.customShort("b"), .customLong("batch")], help: "Sequences run together.")
    var batches = IntList([1])

    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Timed repetitions of each test.")
    var repetitions = 5

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    @Flag(help: "Skip the bandwidth measurement.")
    var noBandwidth = false

    @Option(help: "Where float32 weights live: mapped (in place from the file, the library's default) or resident (copied into huge pages).")
    var weights: WeightResidency = .mapped

    @Option(help: "Precision of the weight matrices: f32, or f16 (half the bytes per decoded token; float32 checkpoints are rounded).")
    var precision: WeightPrecision = .float32

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("-r must be at least 1") }
        guard threads.values.allSatisfy({ $0 >= 1 }), batches.values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("-t and -b values must be at least 1")
        }
    }

    func run() throws {
        var rows: [[String: Any]] = []
        var notes: [String] = ["backend: \(BLASBackend.description)"]
        var decodeBytes: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        for path in models.split(separator: ",").map(String.init) {
            var model: GPT2Model!
            let loadSeconds = try measure { model = try GPT2Model(directory: URL(fileURLWithPath: path), residency: weights,
                                                                      precision: precision) }
            let name = URL(fileURLWithPath: path).lastPathComponent
            let V = model.config.vocabularySize
            func tokens(_ count: Int) -> [Int] { (0..<count).map { _ in Int.random(in: 0..<V, using: &generator) } }
            decodeBytes[name] = model.decodeBytesPerToken
            notes.append(String(format: "%@: %.1f M parameters, load %.3f s (weights %@, %@), %.1f MB of weights read per decoded token",
                                name, Double(model.parameterCount) / 1e6, loadSeconds, weights.rawValue, precision.rawValue,
                                Double(model.decodeBytesPerToken) / 1e6))

            for threadCount in threads.values {
                BLASBackend.setThreadCount(threadCount)
                for batch in batches.values {
                    // token ids are drawn before timing: the timed region holds forward passes only
                    var tests: [(name: String, prompt: Int, gen: Int, body: () throws -> Void)] = []
                    for n in prompts.values where n > 0 {
                        guard n <= model.config.contextLength else { continue }
                        let prompt = (0..<batch).map { _ in tokens(n) }
                        tests.append(("pp\(n)", n, 0, {
                            _ = try model.forward(batch: prompt.map { ($0, model.makeCache(capacity: n)) }, logits: .last)
                        }))
                    }
                    for n in generations.values where n > 0 {
                        guard n <= model.config.contextLength else { continue }
                        let steps = (0..<n).map { _ in (0..<batch).map { _ in tokens(1) } }
                        tests.append(("tg\(n)", 0, n, {
                            let caches = (0..<batch).map { _ in model.makeCache(capacity: n) }
                            for step in steps {
                                _ = try model.forward(batch: Array(zip(step, caches)), logits: .last)
                            }
                        }))
                    }
                    for test in tests {
                        try test.body()  // warm-up: page in the weights, grow the allocator's pools
                        let tokenCount = Double(batch * (test.prompt + test.gen))
                        let rates = try (0..<repetitions).map { _ in tokenCount / (try measure(test.body)) }
                        let stats = Statistics(rates)
                        let row: [String: Any] = [
                            "model": name, "threads": threadCount, "batch": batch, "test": test.name,
                            "n_prompt": test.prompt, "n_gen": test.gen,
                            "tokens_per_s_mean": stats.mean, "tokens_per_s_sd": stats.sd,
                            "t/s": stats.formatted, "samples_ts": rates,
                            "load_s": loadSeconds, "params": model.parameterCount,
                        ]
                        rows.append(row)
                    }
                }
            }
        }
        // read before the bandwidth probe, whose 1 GB buffer would otherwise be the peak
        let peak = Double(peakResidentBytes()) / 1e6
        notes.append(String(format: "peak resident memory of the model tests: %.0f MB", peak))
        for i in rows.indices { rows[i]["peak_rss_mb"] = peak }

        if !noBandwidth {
            let bandwidthThreads = threads.values.max()!
            let bandwidth = measureReadBandwidth(threads: bandwidthThreads)
            notes.append(String(format: "read bandwidth (%d threads): best %.1f GB/s, mean %.1f ± %.1f", bandwidthThreads, bandwidth.best, bandwidth.mean, bandwidth.sd))
            for i in rows.indices {
                rows[i]["bandwidth_gbs"] = bandwidth.best
                guard let name = rows[i]["model"] as? String, let bytes = decodeBytes[name],
                      rows[i]["n_gen"] as? Int ?? 0 > 0, rows[i]["batch"] as? Int == 1,
                      let rate = rows[i]["tokens_per_s_mean"] as? Double else { continue }
                let bound = bandwidth.best * 1e9 / Double(bytes)
                rows[i]["bandwidth_bound_tps"] = bound
                rows[i]["bound_pct"] = String(format: "%.0f%%", 100 * rate / bound)
            }
        }

        let columns = format == .md
            ? ["model", "threads", "batch", "test", "t/s", "bound_pct"]
            : ["model", "threads", "batch", "test", "n_prompt", "n_gen", "tokens_per_s_mean", "tokens_per_s_sd", "load_s", "peak_rss_mb", "bandwidth_gbs", "bound_pct"]
        if format == .json {
            for i in rows.indices { rows[i].removeValue(forKey: "t/s") }
            try printTable(rows, columns: columns, format: .json)
        } else {
            try printTable(rows, columns: columns, format: format)
            if format == .md {
                print()
                for note in notes { print("- \(note)") }
            }
        }
    }
}

// `--weights` and `--precision` take the enums' raw values (mapped/resident, f32/f16)
extension WeightResidency: ExpressibleByArgument {}
extension WeightPrecision: ExpressibleByArgument {}
