import ArgumentParser
import Dispatch
import Foundation
import GPT2
import GPT2Kernels

/// Mean, sample standard deviation and best of repeated measurements.
struct Statistics: Codable {
    var mean: Double
    var sd: Double
    var best: Double
    var samples: [Double]

    init(_ values: [Double]) {
        let mean = values.reduce(0, +) / Double(max(1, values.count))
        let variance = values.count > 1
            ? values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1) : 0
        self.mean = mean
        sd = variance.squareRoot()
        best = values.max() ?? 0
        samples = values
    }

    var formatted: String { String(format: "%.2f ± %.2f", mean, sd) }
}

/// Seconds taken by `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// An error a subcommand reports in one line (`Error: …`, exit status 1).
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How the engine's Swift kernels were built, for the notes under a table.
var kernelBuildNote: String {
    KernelBuild.fusedMultiplyAdd ? "multiply-adds fused (-DGPT2_FMA)" : "multiplies and adds separate (built without -DGPT2_FMA)"
}

/// Where and how a benchmark ran, for its CSV and JSON rows.
enum BenchEnvironment {
    static var fields: [String: Any] { ["cpu": cpu, "build": build, "commit": commit] }

    /// The CPU's model name (Linux: /proc/cpuinfo's `model name`), or "unknown".
    static let cpu: String = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
    }()

    /// "release" or "debug", with "+fma" for a build with -DGPT2_FMA.
    static let build: String = {
        #if DEBUG
        let configuration = "debug"
        #else
        let configuration = "release"
        #endif
        return configuration + (KernelBuild.fusedMultiplyAdd ? "+fma" : "")
    }()

    /// The commit of the checkout this binary sits in, when it runs (its hash, `-dirty` with
    /// changes: git describe in the first directory above the executable holding `Package.swift`
    /// and `.git`), or "unknown".
    static let commit: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let manager = FileManager.default
            if manager.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
               manager.fileExists(atPath: directory.appendingPathComponent(".git").path) {
                let git = Process(), output = Pipe()
                git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                git.arguments = ["git", "-C", directory.path, "describe", "--always", "--dirty", "--abbrev=12", "--exclude=*"]
                git.standardOutput = output
                git.standardError = FileHandle.nullDevice
                guard (try? git.run()) != nil else { return "unknown" }
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                git.waitUntilExit()
                let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return git.terminationStatus == 0 && !commit.isEmpty ? commit : "unknown"
            }
            directory.deleteLastPathComponent()
        }
        return "unknown"
    }()
}

/// Names on standard error the timings whose standard deviation is over a tenth of their mean:
/// figures from a machine too noisy to compare at face value.
func warnIfNoisy(_ timings: [(label: String, mean: Double?, sd: Double?)], advice: String) {
    let noisy = timings.compactMap { timing -> (String, Double)? in
        guard let mean = timing.mean, let sd = timing.sd, mean > 0, sd / mean > 0.1 else { return nil }
        return (timing.label, sd / mean)
    }
    guard let worst = noisy.max(by: { $0.1 < $1.1 }) else { return }
    FileHandle.standardError.write(Data(String(
        format: "gpt2-bench: warning: %d of %d timings vary by more than 10 %% of their mean (worst: %@, sd/mean %.0f %%): the machine was busy; compare alternated runs, or %@\n",
        noisy.count, timings.count, worst.0, worst.1 * 100, advice).utf8))
}

/// `requested` threads, or this machine's physical cores where that is fewer (the engine runs at
/// most one thread per core), saying so on standard error.
/// Sets the engine's threads (``ComputeThreads``).
func setThreads(_ count: Int) { ComputeThreads.count = count }

func effectiveThreads(_ requested: Int) -> Int {
    let cores = ComputeThreads.physicalCoreCount
    guard requested > cores else { return requested }
    FileHandle.standardError.write(Data("gpt2-bench: -t \(requested): this machine has \(cores) physical cores, the engine's most threads; running \(cores)\n".utf8))
    return cores
}

/// Starts the peak resident set size (``peakResidentBytes()``) afresh from the current one, where
/// the system allows it (Linux: `/proc/self/clear_refs`); returns whether it did.
@discardableResult
func resetPeakResident() -> Bool {
    #if os(Linux)
    guard let file = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
    defer { try? file.close() }
    return (try? file.write(contentsOf: Data("5".utf8))) != nil
    #else
    return false
    #endif
}

/// Peak resident set size of this process so far, in bytes.
func peakResidentBytes() -> Int {
    #if canImport(Darwin)
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)          // bytes on Darwin
    #else
    // VmHWM, the high-water mark of this process's own memory: Linux carries getrusage's maxrss
    // over an exec, so a child of a large process (a Python script holding PyTorch) would report
    // its parent's peak
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kilobytes = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
        return kilobytes * 1024
    }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024   // kilobytes on Linux
    #endif
}

/// Comma-separated integers, as llama-bench takes them (`-p 128,512`).
struct IntList: ExpressibleByArgument, CustomStringConvertible {
    var values: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        values = parts.map { $0! }
    }

    init(_ values: [Int]) { self.values = values }
    var description: String { values.map(String.init).joined(separator: ",") }
}

/// Output formats shared by the subcommands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case md, csv, json
}

/// Prints `rows` (one dictionary per row, in `columns` order) as a markdown table, CSV or JSON.
func printTable(_ rows: [[String: Any]], columns: [String], format: OutputFormat) throws {
    switch format {
    case .json:
        let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    case .csv:
        print(columns.joined(separator: ","))
        for row in rows {
            print(columns.map { cell(row[$0], full: true) }.map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: ","))
        }
    case .md:
        let cells = rows.map { row in columns.map { cell(row[$0]) } }
        let widths = columns.indices.map { i in max(columns[i].count, cells.map { $0[i].count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            "| " + values.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        print(line(columns))
        print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in cells { print(line(row)) }
    }
}

/// A table cell: numbers rounded for reading in a markdown table, or at full precision (`full`, CSV).
private func cell(_ value: Any?, full: Bool = false) -> String {
    switch value {
    case let double as Double where full: "\(double)"
    case let double as Double: String(format: double >= 100 ? "%.1f" : "%.3g", double)
    case let value?: "\(value)"
    case nil: ""
    }
}

/// Read bandwidth of this machine: threads summing a buffer much larger than the caches, each its
/// own share, read front to back as one stream or as four streams at once (its quarters side by
/// side, as the decode kernels read a weight matrix; a core's prefetchers follow that faster).
/// The buffer is allocated as the engine's resident weights are (``allocateStreamedMemory(bytes:)``:
/// 2 MB pages): a read of 4 KB pages is slower, which would make the bound of huge-page weights too
/// lenient.
final class ReadProbe {
    let bytes: Int
    private let buffer: UnsafeMutablePointer<Float>

    /// Most megabytes a probe may take (`--probe-mb`): 64 GB.
    static let largestMegabytes = 65_536

    /// Throws where `megabytes` is out of 1...``largestMegabytes`` or cannot be allocated.
    init(megabytes: Int) throws {
        guard (1...Self.largestMegabytes).contains(megabytes) else {
            throw BenchError("--probe-mb \(megabytes): must be 1 to \(Self.largestMegabytes)")
        }
        bytes = megabytes << 20
        guard let raw = allocateStreamedMemory(bytes: bytes) else {
            throw BenchError("--probe-mb \(megabytes): could not allocate \(megabytes) MB for the bandwidth probe")
        }
        buffer = raw.bindMemory(to: Float.self, capacity: bytes / 4)
        buffer.initialize(repeating: 1, count: bytes / 4)
    }

    deinit { free(buffer) }

    /// GB/s of one pass over the buffer by `threads` threads, each reading `streams` (1 or 4) streams.
    func pass(threads: Int, streams: Int) -> Double {
        precondition(streams == 1 || streams == 4)
        let chunk = bytes / 4 / threads / 64 * 64  // floats per thread, whole 256-byte steps per quarter
        // four sums, 64 bytes apart in one stream or a quarter of the share (`chunk` bytes) apart in four
        let (spacing, step, end) = streams == 1 ? (64, 256, chunk * 4) : (chunk, 64, chunk)
        nonisolated(unsafe) let buffer = buffer
        nonisolated(unsafe) let partial = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { partial.deallocate() }
        let seconds = measure {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let base = UnsafeRawPointer(buffer + t * chunk)
                var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
                var offset = 0
                while offset < end {
                    a += base.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
                    b += base.loadUnaligned(fromByteOffset: offset + spacing, as: SIMD16<Float>.self)
                    c += base.loadUnaligned(fromByteOffset: offset + 2 * spacing, as: SIMD16<Float>.self)
                    d += base.loadUnaligned(fromByteOffset: offset + 3 * spacing, as: SIMD16<Float>.self)
                    offset += step
                }
                partial[t] = (a + b + c + d).sum()
            }
        }
        return Double(chunk * threads * 4) / seconds / 1e9
    }

    /// The faster of one pass of each pattern: what the memory delivers right now.
    func now(threads: Int) -> Double {
        max(pass(threads: threads, streams: 1), pass(threads: threads, streams: 4))
    }

    /// `repetitions` passes of one pattern, after one to warm up.
    func statistics(threads: Int, streams: Int, repetitions: Int = 5) -> Statistics {
        Statistics((0...repetitions).map { _ in pass(threads: threads, streams: streams) }.dropFirst().map { $0 })
    }
}
