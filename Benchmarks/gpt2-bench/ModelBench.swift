import ArgumentParser
import Foundation
import GPT2
import GPT2Kernels

/// `gpt2-bench model`: prompt processing (ppN) and text generation (tgN) tokens/s, llama-bench style.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prompt-processing and generation tokens/s of a model, llama-bench style.",
        discussion: """
            ppN processes an N-token prompt in one forward pass into an empty cache (logits of the last \
            position only); tgN generates N tokens one forward pass at a time from an empty cache. With \
            -b B, B sequences run together (pp: B prompts in one pass; tg: one pass per step for all \
            B), and tokens/s counts all of them. As in llama-bench, the timed region holds only the \
            forward passes: token ids are random, nothing is tokenized or sampled, and the caches are \
            allocated once per test and cleared before each run (llama-bench clears its context). Each \
            test runs once untimed, then -r times; the table gives mean ± sample standard deviation. \
            Sizes beyond a model's context are skipped with a note. Whether the engine's Swift \
            kernels fuse their multiply-adds (a build with -Xswiftc -DGPT2_FMA) is in the notes and \
            in each JSON row (`fma`).

            The read bandwidth of the machine is measured in the same run: threads summing 256 MB \
            (--probe-mb, in 2 MB pages where the system gives them, as resident weights are), each \
            its share as one stream and as four streams at once. Single-sequence \
            tg rows are compared with the memory of their own moment (this machine's bandwidth moves \
            by a third within minutes): each timed repetition is bracketed by one pass of each \
            pattern, its bandwidth bound is the fastest of those four passes ÷ the bytes one \
            decode step reads (the weights, and the cached keys and values it attends to: on \
            average over tg N, (N + 1) / 2 positions of them), and bound_pct is the mean of the \
            repetitions' shares of their bounds. The notes give the best and mean of 5 passes of each pattern, taken after all \
            tests.

            --breakdown runs each test once more after its timed repetitions, with a stopwatch \
            between the steps of every forward pass, and reports where the time went: per \
            operation, microseconds per pass, share of the run, and for the weight products the \
            GB/s of weights they read (compare with the read bandwidth) and their GFLOP/s. As a \
            markdown table after the first one, or as `breakdown` arrays in the JSON rows.
            """
    )

    @Option(name: [.customShort("m"), .customLong("model")], help: "Model directories, comma-separated.")
    var models: String

    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt sizes.")
    var prompts = IntList([512])

    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generation sizes.")
    var generations = IntList([128])

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Thread counts.")
    var threads = IntList([ComputeThreads.physicalCoreCount])

    @Option(name: [.customShort("b"), .customLong("batch")], help: "Sequences run together.")
    var batches = IntList([1])

    @Option(name: [.customShort("d"), .customLong("n-depth")],
            help: "Positions each sequence already holds when a tg test starts (llama-bench's -d): a prompt read before timing.")
    var depth = 0

    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Timed repetitions of each test.")
    var repetitions = 5

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    @Flag(help: "Skip the bandwidth measurement.")
    var noBandwidth = false

    @Flag(help: "Also report where each test's time goes, operation by operation (md or json output).")
    var breakdown = false

    @Option(help: "Megabytes the bandwidth probe reads per pass; keep it well beyond the last-level cache.")
    var probeMB = 256

    @Option(help: "Where float32 weights live: mapped (in place from the file, the library's default) or resident (copied into huge pages).")
    var weights: WeightResidency = .mapped

    @Option(help: "Precision of the weight matrices: f32, f16 (half the bytes per decoded token; float32 checkpoints are rounded) or int8 (rounded at load).")
    var precision: WeightPrecision = .float32

    /// The model directories `-m` lists.
    private var modelPaths: [String] {
        models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        guard !modelPaths.isEmpty else { throw ValidationError("-m: no model directory given") }
        guard prompts.values.contains(where: { $0 > 0 }) || generations.values.contains(where: { $0 > 0 }) else {
            throw ValidationError("nothing to run: every -p and -n value is 0")
        }
        guard repetitions >= 1 else { throw ValidationError("-r must be at least 1") }
        guard (0...(1 << 20)).contains(depth) else { throw ValidationError("-d must be in 0...1048576") }
        guard (1...ReadProbe.largestMegabytes).contains(probeMB) else {
            throw ValidationError("--probe-mb must be 1 to \(ReadProbe.largestMegabytes)")
        }
        guard threads.values.allSatisfy({ $0 >= 1 }), batches.values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("-t and -b values must be at least 1")
        }
        guard !breakdown || format != .csv else { throw ValidationError("--breakdown needs -o md or -o json") }
    }

    func run() throws {
        for path in modelPaths {
            // a directory without a readable config.json is reported by the model's load below
            let url = URL(fileURLWithPath: path)
            if let config = try? GPT2Config(contentsOf: url.appendingPathComponent("config.json")) {
                try checkMemory(config: config, name: url.lastPathComponent)
            }
        }
        // allocated before anything is timed, so that a size the machine cannot give fails first;
        // resident from then on, so the peak memory of each model's tests leaves its bytes out
        let probe = noBandwidth ? nil : try ReadProbe(megabytes: probeMB)
        // what runs: at most one thread per physical core, each count once
        var threadCounts: [Int] = []
        for count in threads.values.map(effectiveThreads) where !threadCounts.contains(count) { threadCounts.append(count) }
        var rows: [[String: Any]] = []
        var breakdownRows: [[String: Any]] = []
        var notes: [String] = ["backend: \(BLAS.description); Swift kernels: \(kernelBuildNote)"]
        var generator = SystemRandomNumberGenerator()
        for path in modelPaths {
            let perModelPeak = resetPeakResident()
            let residentBefore = residentBytes()  // the process without this model: runtime, OpenBLAS, threads
            let firstRow = rows.count
            var model: GPT2Model!
            let loadSeconds = try measure { model = try GPT2Model(directory: URL(fileURLWithPath: path), residency: weights,
                                                                      precision: precision) }
            let residentLoaded = residentBytes()
            let name = URL(fileURLWithPath: path).lastPathComponent
            let V = model.config.vocabularySize
            func tokens(_ count: Int) -> [Int] { (0..<count).map { _ in Int.random(in: 0..<V, using: &generator) } }
            var skipped: Set<String> = []
            /// Whether a test that fills `positions` of each cache fits the context; a note if not.
            func fits(_ positions: Int, _ test: String) -> Bool {
                guard positions > model.config.contextLength else { return true }
                if skipped.insert(test).inserted {
                    let note = "\(name): \(test) skipped: longer than the model's context (\(model.config.contextLength) positions)"
                    notes.append(note)
                    FileHandle.standardError.write(Data("gpt2-bench: \(note)\n".utf8))
                }
                return false
            }
            notes.append(String(format: "%@: %.1f M parameters, load %.3f s (weights %@, %@), %.1f MB of weights read per decoded token, and %.3f MB of cached keys and values per position it attends to",
                                name, Double(model.parameterCount) / 1e6, loadSeconds, weights.rawValue, precision.rawValue,
                                Double(model.decodeBytesPerToken) / 1e6, Double(model.cacheBytesPerPosition) / 1e6))

            for threadCount in threadCounts {
                setThreads(threadCount)
                for batch in batches.values {
                    // each test's token ids and caches are made before it is timed (and only then, so
                    // that the peak memory holds one test's caches), the caches with memory for the
                    // whole test, as TextGenerator's are: the timed region holds forward passes only
                    var tests: [(name: String, prompt: Int, gen: Int, prepare: () throws -> () throws -> Void)] = []
                    for n in prompts.values where n > 0 && fits(n, "pp\(n)") {
                        tests.append(("pp\(n)", n, 0, {
                            let prompt = (0..<batch).map { _ in tokens(n) }
                            let caches = try (0..<batch).map { _ in try reservedCache(model, n) }
                            return {
                                for cache in caches { cache.reset() }
                                _ = try model.forward(batch: Array(zip(prompt, caches)), logits: .last)
                            }
                        }))
                    }
                    for n in generations.values {
                        let test = depth > 0 ? "tg\(n) @ d\(depth)" : "tg\(n)"
                        guard n > 0 && fits(depth + n, test) else { continue }
                        tests.append((test, 0, n, {
                            let steps = (0..<n).map { _ in (0..<batch).map { _ in tokens(1) } }
                            let caches = try (0..<batch).map { _ in try reservedCache(model, depth + n) }
                            if depth > 0 { _ = try model.forward(batch: caches.map { (tokens(depth), $0) }, logits: .none) }
                            return {
                                for cache in caches { cache.truncate(to: depth) }
                                for step in steps {
                                    _ = try model.forward(batch: Array(zip(step, caches)), logits: .last)
                                }
                            }
                        }))
                    }
                    for test in tests {
                        let body = try test.prepare()
                        try body()  // warm-up: page in the weights, grow the allocator's pools
                        let tokenCount = Double(batch * (test.prompt + test.gen))
                        let paired = test.gen > 0 && batch == 1 && !noBandwidth
                        var rates: [Double] = [], bandwidths: [Double] = []
                        for _ in 0..<repetitions {
                            let before = paired ? probe!.now(threads: threadCount) : 0
                            rates.append(tokenCount / (try measure(body)))
                            if paired { bandwidths.append(max(before, probe!.now(threads: threadCount))) }
                        }
                        let stats = Statistics(rates)
                        var row: [String: Any] = [
                            "model": name, "threads": threadCount, "batch": batch, "test": test.name,
                            "n_prompt": test.prompt, "n_gen": test.gen,
                            "tokens_per_s_mean": stats.mean, "tokens_per_s_sd": stats.sd,
                            "t/s": stats.formatted, "samples_ts": rates,
                            "load_s": loadSeconds, "params": model.parameterCount, "fma": KernelBuild.fusedMultiplyAdd,
                        ].merging(BenchEnvironment.fields) { first, _ in first }
                        if paired {
                            // a step at position t reads the weights and the t + 1 cached rows
                            // it attends to: (n + 1) / 2 rows on average over tg n from empty
                            let bytesPerToken = Double(model.decodeBytesPerToken)
                                + Double(model.cacheBytesPerPosition) * Double(test.gen + 1) / 2
                            let bounds = bandwidths.map { $0 * 1e9 / bytesPerToken }
                            row["bound_mb_per_token"] = bytesPerToken / 1e6
                            let shares = zip(rates, bounds).map { $0 / $1 }
                            row["paired_bandwidth_gbs"] = Statistics(bandwidths).mean
                            row["bandwidth_bound_tps"] = Statistics(bounds).mean
                            row["bound_pct"] = 100 * Statistics(shares).mean
                        }
                        if breakdown {
                            let passes = test.gen > 0 ? test.gen : 1
                            let steps = try profile(body, model: model, precision: precision, passes: passes,
                                                    rows: batch * max(test.prompt, 1), keptRows: batch)
                            row["breakdown"] = steps
                            breakdownRows += steps.map { step in
                                step.merging(["model": name, "threads": threadCount, "batch": batch, "test": test.name]) { a, _ in a }
                            }
                        }
                        rows.append(row)
                    }
                }
            }
            // this model's own peak where the system can restart the count, else the process's so far
            let peak = Double(peakResidentBytes() - (probe?.bytes ?? 0)) / 1e6
            let before = Double(residentBefore) / 1e6
            notes.append(String(format: "%@: peak resident memory of its tests: %.0f MB%@; resident before loading %.0f MB, after %.0f MB",
                                name, peak, perModelPeak ? "" : " (the process's peak so far)", before, Double(residentLoaded) / 1e6))
            for i in firstRow..<rows.count { (rows[i]["peak_rss_mb"], rows[i]["rss_before_load_mb"]) = (peak, before) }
        }

        if let probe {
            let bandwidthThreads = threadCounts.max()!
            let best = [1, 4].map { streams in
                let bandwidth = probe.statistics(threads: bandwidthThreads, streams: streams)
                notes.append(String(format: "read bandwidth after the tests (%d threads, %d stream%@ each): best %.1f GB/s, mean %.1f ± %.1f",
                                    bandwidthThreads, streams, streams == 1 ? "" : "s", bandwidth.best, bandwidth.mean, bandwidth.sd))
                return bandwidth.best
            }.max()!
            for i in rows.indices { rows[i]["bandwidth_gbs"] = best }
        }

        let columns = format == .md
            ? ["model", "threads", "batch", "test", "t/s", "bound_pct"]
            : ["model", "threads", "batch", "test", "n_prompt", "n_gen", "tokens_per_s_mean", "tokens_per_s_sd", "load_s", "peak_rss_mb", "rss_before_load_mb", "bandwidth_gbs", "paired_bandwidth_gbs", "bandwidth_bound_tps", "bound_pct", "fma", "cpu", "build", "commit"]
        warnIfNoisy(rows.map { ("\($0["test"]!) × \($0["batch"]!)", $0["tokens_per_s_mean"] as? Double, $0["tokens_per_s_sd"] as? Double) },
                    advice: "raise -r")
        if format == .json {
            for i in rows.indices { rows[i].removeValue(forKey: "t/s") }
            try printTable(rows, columns: columns, format: .json)
        } else {
            if format == .md {
                for i in rows.indices { rows[i]["bound_pct"] = (rows[i]["bound_pct"] as? Double).map { String(format: "%.0f%%", $0) } }
            }
            try printTable(rows, columns: columns, format: format)
            if format == .md {
                if breakdown {
                    print()
                    try printTable(breakdownRows, columns: ["model", "threads", "batch", "test", "op", "us_per_pass", "share_pct", "weights_gbs", "gflops"],
                                   format: .md)
                }
                print()
                for note in notes { print("- \(note)") }
            }
        }
    }
}

extension ModelBench {
    /// Refuses, before anything runs, a test that needs more memory than the machine has: the KV
    /// caches, activations and logits of its `-b` sequences, and the bandwidth probe. A `-b` or
    /// size too large for the machine would otherwise end in the allocator's trap, or in the
    /// kernel's out-of-memory killer, partway through the run.
    func checkMemory(config: GPT2Config, name: String) throws {
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        let (L, C, F, V) = (Double(config.layerCount), Double(config.embeddingSize), Double(config.innerSize),
                            Double(config.vocabularySize))
        let probe = noBandwidth ? 0 : Double(probeMB) * 1_048_576
        guard probe <= memory else {
            throw BenchError("--probe-mb \(probeMB): more than this machine's \(String(format: "%.1f", memory / 1e9)) GB of memory")
        }
        // (test, positions cached, rows of one pass) per sequence, for the sizes that fit the context
        let tests = prompts.values.filter { $0 > 0 && $0 <= config.contextLength }.map { ("pp\($0)", $0, $0) }
            + generations.values.filter { $0 > 0 && depth + $0 <= config.contextLength }.map { ("tg\($0)", depth + $0, 1) }
        for batch in batches.values {
            for (test, positions, rows) in tests {
                // a sequence's cache (a key and a value row of every block and position), its rows
                // of a pass's activations (x, h, q and the MLP's hidden layer), its logits (the
                // pass's and the copy it is handed) and its token ids
                let sequence = 2 * L * C * Double(positions) * 4 + Double(rows) * (3 * C + F) * 4 + 2 * V * 4
                    + Double(positions) * 8
                let needed = Double(batch) * sequence + probe
                guard needed <= memory else {
                    let probeNote = probe > 0 ? ", and the \(probeMB) MB bandwidth probe" : ""
                    throw BenchError("\(name): -b \(batch) with \(test) needs at least \(String(format: "%.1f", needed / 1e9)) GB of memory "
                                     + "(KV caches, activations and logits of \(batch) sequences\(probeNote)); this machine has \(String(format: "%.1f", memory / 1e9)) GB")
                }
            }
        }
    }
}

/// One untimed-by-the-table run of `body` with the kernels' profile on: a row per layer name with
/// microseconds per forward pass, share of the run, and for the weight products the GB/s of
/// weights read and GFLOP/s. `rows` new positions per pass, `keptRows` of them (the last of each
/// sequence) going on through the last block's products and the LM head.
private func profile(_ body: () throws -> Void, model: GPT2Model, precision: WeightPrecision,
                     passes: Int, rows: Int, keptRows: Int) throws -> [[String: Any]] {
    KernelProfile.start()
    let seconds = try measure(body)
    let steps = KernelProfile.stop()
    let (C, F, V, L) = (model.config.embeddingSize, model.config.innerSize, model.config.vocabularySize, model.config.layerCount)
    // weights of each product summed over the blocks, and its multiply-adds ×2: every new row goes
    // through each block but the last, where only the kept rows go on after attention
    let fullRows = (L - 1) * rows + keptRows
    let products: [String: (weights: Int, flops: Int)] = [
        "c_attn": (L * C * 3 * C, 2 * C * 3 * C * L * rows),
        "attn.c_proj": (L * C * C, 2 * C * C * fullRows),
        "c_fc": (L * C * F, 2 * C * F * fullRows),
        "mlp.c_proj": (L * F * C, 2 * F * C * fullRows),
        "lm_head": (V * C, 2 * V * C * keptRows),
    ]
    return steps.map { step in
        let perPass = step.seconds / Double(passes)
        var row: [String: Any] = ["op": step.name, "us_per_pass": perPass * 1e6,
                                  "share_pct": 100 * step.seconds / seconds]
        if let product = products[step.name], perPass > 0 {
            row["weights_gbs"] = Double(product.weights) * precision.bytesPerWeight / perPass / 1e9
            row["gflops"] = Double(product.flops) / perPass / 1e9
        }
        return row
    }
}

// `--weights` and `--precision` take the enums' raw values (mapped/resident, f32/f16/int8)
extension WeightResidency: ExpressibleByArgument {}
extension WeightPrecision: ExpressibleByArgument {}

/// A cache of `model` with memory for `positions` positions from the start, as the scheduler gives
/// each generation, so that a test neither grows it nor holds its old and new memory at once.
private func reservedCache(_ model: GPT2Model, _ positions: Int) throws -> KVCache {
    let cache = try model.makeCache(capacity: positions)
    try cache.reserve(positions)
    return cache
}
