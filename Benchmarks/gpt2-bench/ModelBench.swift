import ArgumentParser
import Foundation
import GPT2

/// Prompt processing (pp) and text generation (tg) throughput, llama-bench style.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prompt-processing and generation tokens/s of a model (tokenization and sampling excluded)."
    )

    @Option(name: [.short, .long], help: "Model directory.")
    var model: String

    @Option(name: [.short, .customLong("n-prompt")], help: "Prompt sizes, comma-separated.")
    var p: String = "512"

    @Option(name: [.short, .customLong("n-gen")], help: "Generation sizes, comma-separated.")
    var n: String = "128"

    @Option(name: [.short, .customLong("threads")], help: "Thread counts, comma-separated.")
    var t: String = "2"

    @Option(name: [.short, .customLong("batch")], help: "Concurrent sequences, comma-separated.")
    var b: String = "1"

    @Option(name: [.short, .customLong("repetitions")], help: "Repetitions of each test.")
    var r: Int = 5

    func run() throws {
        let model = try GPT2Model(directory: URL(fileURLWithPath: self.model))
        for threads in ints(t) {
            BLASBackend.setThreadCount(threads)
            for batch in ints(b) {
                for size in ints(p) where size > 0 {
                    let times = (0...r).map { _ in
                        time { _ = try! model.forward(batch: (0..<batch).map { _ in (tokens(size), model.makeCache()) }) }
                    }.dropFirst()
                    report("pp\(size)", Double(size * batch), Array(times), threads, batch)
                }
                for size in ints(n) where size > 0 {
                    let times = (0...r).map { _ in
                        let caches = (0..<batch).map { _ in model.makeCache() }
                        return time {
                            for _ in 0..<size {
                                _ = try! model.forward(batch: caches.map { (tokens(1), $0) })
                            }
                        }
                    }.dropFirst()
                    report("tg\(size)", Double(size * batch), Array(times), threads, batch)
                }
            }
        }
    }

    func tokens(_ count: Int) -> [Int] { (0..<count).map { _ in Int.random(in: 0..<50000) } }
    func ints(_ list: String) -> [Int] { list.split(separator: ",").compactMap { Int($0) } }
    func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    func report(_ test: String, _ tokens: Double, _ times: [Double], _ threads: Int, _ batch: Int) {
        let rates = times.map { tokens / $0 }
        let mean = rates.reduce(0, +) / Double(rates.count)
        let sd = (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, rates.count - 1))).squareRoot()
        print("\(test) t=\(threads) b=\(batch): \(String(format: "%.1f ± %.1f", mean, sd)) tok/s")
    }
}
