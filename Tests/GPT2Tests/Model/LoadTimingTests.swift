import Foundation
import Testing
@testable import GPT2
@testable import GPT2Kernels

/// What refusing non-finite weights costs a load, measured on a real-sized checkpoint: loads with
/// and without the check, alternating so that both see the same page cache and machine load.
/// Runs only when GPT2_LOAD_TIMING_MODEL names a model directory (a timing, not a check).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["GPT2_LOAD_TIMING_MODEL"] != nil))
struct LoadTimingTests {
    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["GPT2_LOAD_TIMING_MODEL"] ?? "/")

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    @Test("load time with and without the finite-value check", arguments: WeightResidency.allCases)
    func checkCost(residency: WeightResidency) throws {
        let rounds = 11
        var with: [Double] = [], without: [Double] = [], withFirst: [Double] = [], withoutFirst: [Double] = []
        _ = try GPT2Model(directory: Self.directory, residency: residency)  // the file into the page cache
        for round in 0..<(2 * rounds) {
            let checking = round % 2 == 0
            var model: GPT2Model?
            let load = try Self.seconds {
                model = try GPT2Model(directory: Self.directory, residency: residency, precision: .float32, checkingValues: checking)
            }
            // and to the first logits, which read every weight anyway
            let first = try Self.seconds { _ = try model!.forward([464], cache: try model!.makeCache(capacity: 8)) }
            if checking { with.append(load); withFirst.append(load + first) } else { without.append(load); withoutFirst.append(load + first) }
        }
        print(String(format: "load-timing %@: load median %.4f s checked, %.4f s unchecked, ratio %.3f; to first logits %.4f s vs %.4f s, ratio %.3f",
                     residency.rawValue, Self.median(with), Self.median(without), Self.median(with) / Self.median(without),
                     Self.median(withFirst), Self.median(withoutFirst), Self.median(withFirst) / Self.median(withoutFirst)))
        // ratios of the alternating pairs, whose median is steadier than a ratio of medians
        let pairs = zip(with, without).map { $0 / $1 }
        print(String(format: "load-timing %@: median per-round ratio %.3f (load), %.3f (to first logits)", residency.rawValue,
                     Self.median(pairs), Self.median(zip(withFirst, withoutFirst).map { $0 / $1 })))
    }

    @Test("the scan alone, over weights already in memory")
    func scanThroughput() throws {
        let file = try SafeTensorsFile(url: Self.directory.appendingPathComponent("model.safetensors"))
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: file.file.bytes.count, alignment: 64)
        defer { copy.deallocate() }
        copy.copyMemory(from: file.file.bytes)
        // the data section as each format (a value that is non-finite as another format than the
        // checkpoint's ends that scan early: the line says so)
        let start = file.entries.values.map(\.range.lowerBound).min() ?? 8
        let bytes = copy.count - start
        for format in [StoredFloatFormat.float32, .float16, .bfloat16] {
            let count = bytes / format.byteSize
            var times: [Double] = []
            var found: (index: Int, kind: NonFiniteKind)?
            for _ in 0..<11 {
                times.append(Self.seconds { found = firstNonFinite(copy.baseAddress! + start, count: count, format: format) })
            }
            print(String(format: "load-timing scan %@: %.1f MB in %.4f s (median), %.1f GB/s%@", "\(format)", Double(bytes) / 1e6,
                         Self.median(times), Double(bytes) / Self.median(times) / 1e9,
                         found.map { " (stopped at element \($0.index))" } ?? ""))
        }
    }
}
