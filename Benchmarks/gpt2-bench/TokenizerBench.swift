import ArgumentParser
import Foundation
import GPT2

/// `gpt2-bench tokenizer [--text FILE]`: encode throughput of `GPT2Tokenizer` in MB/s on one
/// thread, to put side by side with `scripts/bench_tokenizer_tiktoken.py` on the same file.
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Measure GPT-2 BPE encode throughput (MB/s, one thread) on a text file."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: "UTF-8 text file to encode (default: the package's Benchmarks/mixed_en_zh.txt, 1.1 MB of English and Chinese customer profiles and pitches).")
    var text: String?

    @Option(name: .long, help: "Directory with tokenizer.json or vocab.json + merges.txt (default: $GPT2_MODEL_DIR, else the package's Models/sales-demo).")
    var model: String?

    @Option(name: .shortAndLong, help: "Timed repetitions of encoding the whole file.")
    var repetitions: Int = 10

    @Option(name: .long, help: "Untimed warm-up repetitions.")
    var warmup: Int = 2

    @Flag(name: .long, help: "Also time encoding the file line by line (many short texts, as requests are).")
    var lines = false

    @Option(name: .long, help: "Also time encoding the file in chunks of whole lines of about this many bytes, one call per chunk.")
    var chunk: Int?

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output format: text or json.")
    var format: Format = .text

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // gpt2-bench
        .deletingLastPathComponent()  // Benchmarks
        .deletingLastPathComponent()

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard chunk.map({ $0 >= 1 }) ?? true else { throw ValidationError("--chunk must be at least 1 byte") }
    }

    func run() throws {
        let modelDirectory: URL
        if let model {
            modelDirectory = URL(fileURLWithPath: model)
        } else if let env = ProcessInfo.processInfo.environment["GPT2_MODEL_DIR"], !env.isEmpty {
            modelDirectory = URL(fileURLWithPath: env)
        } else {
            modelDirectory = Self.packageRoot.appendingPathComponent("Models/sales-demo")
        }

        var tokenizer: GPT2Tokenizer!
        let loadSeconds = try measure { tokenizer = try GPT2Tokenizer(directory: modelDirectory) }

        let text = text ?? Self.packageRoot.appendingPathComponent("Benchmarks/mixed_en_zh.txt").path
        // bounded as generate's inputs are: a mistaken /dev/zero or huge file is an error, not all of memory
        let data: Data
        do {
            data = Data(try readWholeFile(URL(fileURLWithPath: text), limit: 256 << 20))
        } catch {
            throw BenchError("--text \(text): \(error.detail)")
        }
        guard let content = String(data: data, encoding: .utf8) else {
            throw BenchError("--text \(text): not valid UTF-8")
        }
        let megabytes = Double(data.count) / 1e6

        var ids: [Int] = []
        for _ in 0..<warmup { ids = tokenizer.encode(content, allowSpecialTokens: false) }
        var rates: [Double] = []
        for _ in 0..<repetitions {
            rates.append(megabytes / measure { ids = tokenizer.encode(content, allowSpecialTokens: false) })
        }
        let tokenCount = ids.count
        let encodeStats = Statistics(rates)

        /// Encodes `pieces` one call each, `warmup + repetitions` times; MB/s of the whole file.
        func timeSeparately(_ pieces: [String]) -> Statistics {
            var rates: [Double] = []
            for r in 0..<(warmup + repetitions) {
                var count = 0
                let seconds = measure {
                    for piece in pieces { count &+= tokenizer.encode(piece, allowSpecialTokens: false).count }
                }
                if r >= warmup { rates.append(megabytes / seconds) }
                precondition(count > 0)
            }
            return Statistics(rates)
        }
        let lineTexts = content.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) + "\n" }
        let lineStats = lines ? timeSeparately(lineTexts) : nil
        var chunkStats: Statistics?
        if let chunk {
            var chunks: [String] = []
            var current = ""
            for line in lineTexts {
                current += line
                if current.utf8.count >= chunk { chunks.append(current); current = "" }
            }
            if !current.isEmpty { chunks.append(current) }
            chunkStats = timeSeparately(chunks)
        }

        // Decode throughput, for completeness (of the ids the last encode gave).
        var decodeRates: [Double] = []
        for _ in 0..<max(1, repetitions / 2) {
            var decoded = ""
            let seconds = measure { decoded = tokenizer.decode(ids) }
            // against the text as read (a byte-order mark at the start is not part of it)
            guard decoded.utf8.count == content.utf8.count else {
                throw BenchError("--text \(text): decode(encode(text)) gave \(decoded.utf8.count) bytes, not \(content.utf8.count)")
            }
            decodeRates.append(megabytes / seconds)
        }
        let decodeStats = Statistics(decodeRates)

        switch format {
        case .text:
            print("file:        \(text) (\(data.count) bytes)")
            print("tokenizer:   \(modelDirectory.path) (loaded in \(String(format: "%.1f", loadSeconds * 1000)) ms)")
            print("tokens:      \(tokenCount)")
            print("encode:      \(encodeStats.formatted) MB/s (best \(String(format: "%.2f", encodeStats.best)), \(repetitions) runs, 1 thread)")
            if let lineStats {
                print("encode/line: \(lineStats.formatted) MB/s (best \(String(format: "%.2f", lineStats.best)), each line a separate call)")
            }
            if let chunkStats, let chunk {
                print("encode/\(chunk) B: \(chunkStats.formatted) MB/s (best \(String(format: "%.2f", chunkStats.best)), chunks of ~\(chunk) bytes)")
            }
            print("decode:      \(decodeStats.formatted) MB/s")
        case .json:
            var object: [String: Any] = [
                "file": text, "bytes": data.count, "tokens": tokenCount, "repetitions": repetitions,
                "load_ms": loadSeconds * 1000,
                "encode_mb_s_mean": encodeStats.mean, "encode_mb_s_sd": encodeStats.sd,
                "encode_mb_s_best": encodeStats.best,
                "decode_mb_s_mean": decodeStats.mean,
            ]
            if let lineStats {
                object["encode_lines_mb_s_mean"] = lineStats.mean
                object["encode_lines_mb_s_sd"] = lineStats.sd
            }
            if let chunkStats, let chunk {
                object["chunk_bytes"] = chunk
                object["encode_chunks_mb_s_mean"] = chunkStats.mean
                object["encode_chunks_mb_s_sd"] = chunkStats.sd
            }
            let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: json, as: UTF8.self))
        }
    }
}
