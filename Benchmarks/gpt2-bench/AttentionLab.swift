import ArgumentParser
import Foundation
import GPT2
import GPT2Kernels

/// `gpt2-bench attention`: every attention kernel, checked against the reference, then timed over
/// a sweep of sequence lengths, for prefill (T queries over T keys) and decode (1 query over T keys).
struct AttentionLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "The attention-kernel lab: check each kernel against the reference, then time a sweep.",
        discussion: """
            FLOPs count the causal half only (4·heads·head_size per visible query-key pair), as the \
            PyTorch anchors do. Before timing, each kernel runs the whole shape (every head, every \
            row, the call that is timed) and its output is compared with the naive double-precision \
            reference (every row up to 256 queries, 32 rows spread over longer prompts; max abs \
            difference ≤ 1e-4). A kernel that fails is not timed, is named on standard error, and \
            makes the command exit with status 1 after the table. The engine's choice for each shape \
            (AttentionKernels.engineChoice) is marked. CSV and JSON rows also record the threads, the \
            cache (cold or warm), whether the Swift kernels fuse their multiply-adds (`fma`: a build \
            with -Xswiftc -DGPT2_FMA), the CPU, the build and the checkout's commit. Timings whose \
            standard deviation is over a tenth of their mean are named on standard error. \
            --kernels picks kernels by name; LabKernels.swift says how to add one of your own.

            Decode calls start from a cold cache, as in the engine, where a decode step streams the \
            model's weights (hundreds of MB) between two calls of a layer's attention: each call is \
            timed alone after 64 MB of other memory has been read. --warm-decode times them back to \
            back instead, with the keys and values left in the caches.
            """
    )

    @Option(name: [.customShort("T"), .customLong("lengths")], help: "Sequence lengths.")
    var lengths = IntList([64, 128, 256, 512, 1024, 2048, 4096])

    @Option(name: [.customShort("H"), .customLong("heads")], help: "Head counts.")
    var heads = IntList([12])

    @Option(name: [.customShort("D"), .customLong("head-size")], help: "Head sizes.")
    var headSizes = IntList([64])

    @Option(help: "Modes: prefill, decode or both.")
    var mode: Mode = .both

    @Option(help: "Positions already cached before a prefill's T new ones (a prompt appended to a conversation); decode always attends to T keys.")
    var past = 0

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Threads.")
    var threads = ComputeThreads.physicalCoreCount

    @Option(help: "Minimum seconds of timing per kernel and shape.")
    var minSeconds = 0.3

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    @Option(help: ArgumentHelp("Write a plot of the sweep here (SVG).", valueName: "path"))
    var plot: String?

    @Option(help: ArgumentHelp("JSON rows from scripts/bench_attention_torch.py, drawn in the plot as a reference line (its decode calls run back to back: compare with --warm-decode).", valueName: "path"))
    var reference: String?

    @Option(help: ArgumentHelp("Only these kernels, comma-separated (default: all but naive; see LabKernels.swift to add one).", valueName: "names"))
    var kernels: String?

    @Flag(help: "Also time the naive reference (slow).")
    var includeNaive = false

    @Flag(help: "Time decode calls back to back, keys and values in the caches (default: each call from a cold cache).")
    var warmDecode = false

    enum Mode: String, ExpressibleByArgument, CaseIterable { case prefill, decode, both }

    func validate() throws {
        // bounds that keep every buffer's size (and the arithmetic on it) far from overflowing
        for (flag, list, most) in [("-T", lengths, 65_536), ("-H", heads, 1_024), ("-D", headSizes, 1_024)]
        where list.values.contains(where: { !(1...most).contains($0) }) {
            throw ValidationError("\(flag) values must be 1 to \(most), got \(list)")
        }
        guard (0...65_536).contains(past) else { throw ValidationError("--past must be 0 to 65536") }
        guard threads >= 1 else { throw ValidationError("-t must be at least 1") }
        guard minSeconds > 0, minSeconds <= 3600 else { throw ValidationError("--min-seconds must be above 0 and at most 3600") }
        // queries [T, 3W], output [T, W], keys and values [past + T, W] of the largest shape
        let width = heads.values.max()! * headSizes.values.max()!, T = lengths.values.max()!
        let bytes = 4 * width * (4 * T + 2 * (past + T))
        guard bytes <= 1 << 32 else {
            throw ValidationError(String(format: "-T, -H, -D and --past: the largest shape needs %.1f GB of buffers; at most 4.3 GB", Double(bytes) / 1e9))
        }
        guard reference == nil || plot != nil else { throw ValidationError("--reference is drawn in the plot: give --plot too") }
        _ = try chosenKernels()
    }

    /// The kernels to run: `--kernels`' in the lab's order, or every one (the naive reference only
    /// with --include-naive).
    func chosenKernels() throws -> [any AttentionKernel] {
        guard let kernels else { return labKernels.filter { includeNaive || $0.name != "naive" } }
        let names = kernels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let known = labKernels.map(\.name)
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw ValidationError("--kernels \(kernels): no kernel \(unknown.isEmpty ? "with an empty name" : unknown) (the lab's: \(known.joined(separator: ", ")))")
        }
        return labKernels.filter { names.contains($0.name) }
    }

    func run() throws {
        // the plot's inputs and destination are checked before the sweep, which can take minutes
        let referenceRows = try reference.map(Self.readReference) ?? []
        if let plot {
            let directory = URL(fileURLWithPath: plot).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue,
                  FileManager.default.isWritableFile(atPath: directory) else {
                throw BenchError("--plot \(plot): \(directory) is not a writable directory")
            }
        }
        setThreads(effectiveThreads(threads))
        let kernels = try chosenKernels()
        var rows: [[String: Any]] = []
        var failures: [String] = []
        let modes: [Mode] = mode == .both ? [.prefill, .decode] : [mode]
        for H in heads.values { for D in headSizes.values { for m in modes { for T in lengths.values {
            let shape = m == .prefill
                ? AttentionShape(queryCount: T, keyCount: past + T, headCount: H, headSize: D)
                : AttentionShape(queryCount: 1, keyCount: T, headCount: H, headSize: D)
            let buffers = LabBuffers(shape: shape)
            let chosen = AttentionKernels.engineChoice(for: shape).name
            var shapeRows: [[String: Any]] = []
            for kernel in kernels {
                let difference = buffers.largestDifferenceFromReference(kernel)
                let passed = difference <= 1e-4  // false for NaN too
                var row: [String: Any] = ["mode": m.rawValue, "T": T, "past": shape.pastCount, "heads": H, "head_size": D, "kernel": kernel.name,
                                          "max_abs_diff": Double(difference), "check": passed ? "ok" : "FAILED",
                                          "engine": kernel.name == chosen ? "*" : "", "fma": KernelBuild.fusedMultiplyAdd,
                                          "threads": ComputeThreads.count, "cache": m == .decode && !warmDecode ? "cold" : "warm"]
                    .merging(BenchEnvironment.fields) { first, _ in first }
                if passed {
                    let seconds = m == .decode && !warmDecode
                        ? try buffers.timeCold(kernel)
                        : buffers.time(kernel, minSeconds: minSeconds)
                    row["us_mean"] = seconds.mean * 1e6
                    row["us_sd"] = seconds.sd * 1e6
                    row["gflops"] = shape.flops / seconds.mean / 1e9
                } else {
                    failures.append("\(kernel.name), \(m.rawValue) \(shape): max abs difference \(difference) from the reference")
                }
                shapeRows.append(row)
            }
            let fastest = shapeRows.compactMap { $0["us_mean"] as? Double }.min()
            for var row in shapeRows {
                row["fastest"] = fastest != nil && (row["us_mean"] as? Double) == fastest ? "*" : ""
                rows.append(row)
                if format == .md { FileHandle.standardError.write(Data(".".utf8)) }
            }
        } } } }
        if format == .md { FileHandle.standardError.write(Data("\n".utf8)) }
        try printTable(rows, columns: ["mode", "T", "past", "heads", "head_size", "kernel", "gflops", "us_mean", "us_sd", "max_abs_diff", "check", "fastest", "engine"]
                        + (format == .md ? [] : ["threads", "cache", "fma", "cpu", "build", "commit"]), format: format)
        warnIfNoisy(rows.map { row in
            ("\(row["kernel"]!) \(row["mode"]!) T=\(row["T"]!) D=\(row["head_size"]!)", row["us_mean"] as? Double, row["us_sd"] as? Double)
        }, advice: "raise --min-seconds")
        if let plot {
            do {
                try AttentionPlot(rows: rows, reference: referenceRows, warmDecode: warmDecode).svg()
                    .write(toFile: plot, atomically: true, encoding: .utf8)
            } catch {
                throw BenchError("--plot \(plot): could not write the plot (\(error.localizedDescription))")
            }
            FileHandle.standardError.write(Data("plot written to \(plot)\n".utf8))
        }
        guard failures.isEmpty else {
            for failure in failures { FileHandle.standardError.write(Data("attention: FAILED CHECK: \(failure)\n".utf8)) }
            throw ExitCode.failure
        }
    }
}

extension AttentionLab {
    /// The rows of a `--reference` file: a JSON array of objects, as
    /// `scripts/bench_attention_torch.py` writes them.
    static func readReference(_ path: String) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("--reference \(path): no such file, or not readable")
        }
        guard let rows = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw BenchError("--reference \(path): not a JSON array of objects (rows of scripts/bench_attention_torch.py)")
        }
        return rows
    }
}

/// Random queries, keys and values laid out as in the engine (q inside the c_attn rows, K/V rows
/// of the cache), and an output buffer.
private final class LabBuffers {
    let shape: AttentionShape
    let width: Int
    let queries: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    init(shape: AttentionShape) {
        self.shape = shape
        width = shape.headCount * shape.headSize
        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> UnsafeMutablePointer<Float> {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { buffer[i] = Float.random(in: -1...1, using: &generator) }
            return buffer
        }
        queries = random(shape.queryCount * 3 * width)
        keys = random(shape.keyCount * width)
        values = random(shape.keyCount * width)
        output = .allocate(capacity: shape.queryCount * width)
    }

    deinit {
        queries.deallocate()
        keys.deallocate()
        values.deallocate()
        output.deallocate()
    }

    func arguments(_ shape: AttentionShape) -> AttentionArguments {
        AttentionArguments(shape: shape, queries: queries, queryStride: 3 * width, keys: keys, values: values,
                           keyValueStride: width, output: output, outputStride: width,
                           scale: 1 / Float(shape.headSize).squareRoot())
    }

    /// The largest difference between the kernel's output for the whole shape (the call that is
    /// timed) and the naive double-precision reference, on every row up to 256 queries and on 32
    /// rows spread from first to last beyond (the reference is slow: one query, one head at a time).
    func largestDifferenceFromReference(_ kernel: any AttentionKernel) -> Float {
        output.update(repeating: .nan, count: shape.queryCount * width)  // a row left unwritten fails
        kernel.run(arguments(shape))
        let rows = shape.queryCount <= 256
            ? Array(0..<shape.queryCount)
            : (0..<32).map { $0 * (shape.queryCount - 1) / 31 }
        let expected = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { expected.deallocate() }
        var largest: Float = 0
        for t in rows {
            // query row t alone: one query over the keys it may see
            let row = AttentionShape(queryCount: 1, keyCount: shape.pastCount + t + 1,
                                     headCount: shape.headCount, headSize: shape.headSize)
            var reference = arguments(row)
            reference.queries = UnsafePointer(queries + t * 3 * width)
            reference.output = expected
            NaiveAttention().run(reference)
            for i in 0..<width {
                let difference = abs(output[t * width + i] - expected[i])
                if difference.isNaN { return .nan }
                largest = max(largest, difference)
            }
        }
        return largest
    }

    /// Seconds per call: batches of calls until `minSeconds` have passed, at least 5 batches.
    func time(_ kernel: any AttentionKernel, minSeconds: Double) -> Statistics {
        let arguments = arguments(shape)
        kernel.run(arguments)  // warm-up
        let once = measure { kernel.run(arguments) }
        let perBatch = max(1, Int(minSeconds / 5 / max(once, 1e-7)))
        var samples: [Double] = []
        var total = 0.0
        while samples.count < 5 || total < minSeconds {
            let seconds = measure { for _ in 0..<perBatch { kernel.run(arguments) } }
            samples.append(seconds / Double(perBatch))
            total += seconds
        }
        return Statistics(samples)
    }

    /// Seconds per call, each of 200 calls after reading 64 MB of other memory (twice a 32 MB L3)
    /// and then running the kernel once on other, small buffers: in the engine
    /// the decode step's products keep the worker threads spinning, and this wakes them likewise.
    func timeCold(_ kernel: any AttentionKernel) throws -> Statistics {
        let arguments = arguments(shape)
        let waker = LabBuffers(shape: AttentionShape(queryCount: 1, keyCount: 256, headCount: shape.headCount, headSize: shape.headSize))
        let wakerArguments = waker.arguments(waker.shape)
        let eviction = try ReadProbe(megabytes: 64)  // reading it is what evicts
        var samples: [Double] = []
        for _ in 0..<200 {
            _ = eviction.pass(threads: 1, streams: 1)
            kernel.run(wakerArguments)
            samples.append(measure { kernel.run(arguments) })
        }
        return Statistics(samples)
    }
}
