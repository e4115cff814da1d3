import Foundation
import Synchronization

/// How many threads the kernels use, process-wide: the worker pool's threads and the caller's.
/// OpenBLAS itself runs single-threaded and its products are split across the same pool.
package enum KernelThreads {
    private static let current = LockedCounter(physicalCoreCount)

    /// Threads the kernels use now (default: the physical cores). Counts above the pool's size act
    /// as that size.
    package static var count: Int {
        get { current.value }
        set { current.value = max(1, newValue) }
    }

    /// Physical cores of this machine (SMT siblings counted once): the thread count that does not
    /// oversubscribe the cores for compute-bound matrix products. Falls back to the logical count.
    package static var physicalCoreCount: Int {
        #if os(Linux)
        var cores = Set<String>()
        for cpu in 0..<ProcessInfo.processInfo.activeProcessorCount {
            let topology = "/sys/devices/system/cpu/cpu\(cpu)/topology/"
            guard let core = try? String(contentsOfFile: topology + "core_id", encoding: .utf8),
                  let package = try? String(contentsOfFile: topology + "physical_package_id", encoding: .utf8) else {
                return ProcessInfo.processInfo.activeProcessorCount
            }
            cores.insert(package.trimmingCharacters(in: .whitespacesAndNewlines) + ":" + core.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return max(1, cores.count)
        #else
        return ProcessInfo.processInfo.activeProcessorCount
        #endif
    }
}

/// Most parts a parallel kernel is split into: the threads asked for, at most the pool's.
package var parallelism: Int { min(KernelThreads.count, WorkerPool.shared.workerCount + 1) }

/// Calls `body(range)` for disjoint ranges covering `0..<count`, in parallel on ``WorkerPool``
/// when the work is large enough to pay for it (about `minimumPerPart` elements of work per part).
package func parallelRanges(_ count: Int, minimumPerPart: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let pool = WorkerPool.shared
    let parts = max(1, min(parallelism, count / max(1, minimumPerPart)))
    if parts == 1 { return body(0..<count) }
    let size = (count + parts - 1) / parts
    pool.run(parts: parts) { part in
        let range = (part * size)..<min(count, (part + 1) * size)
        if !range.isEmpty { body(range) }
    }
}

/// Chunks covering `0..<count` for ``parallelChunks(_:_:)`` that shrink as the work runs out: each
/// a `1/(2·parts)` share of what is left, in multiples of `multiple`, at least `minimum`. A single
/// chunk when `parts` is 1.
package func shrinkingChunks(_ count: Int, parts: Int, minimum: Int, multiple: Int = 4) -> [Range<Int>] {
    guard parts > 1 else { return [0..<count] }
    var chunks: [Range<Int>] = []
    var start = 0
    while start < count {
        let size = (max(minimum, (count - start) / (2 * parts)) + multiple - 1) / multiple * multiple
        chunks.append(start..<min(count, start + size))
        start = chunks.last!.upperBound
    }
    return chunks
}

/// Chunks covering `0..<count` for sums whose every chunk but the first needs a partial sum of its
/// own: `parts` large chunks of 3/(4·parts) of the rows each, then the last quarter in chunks of
/// 1/`parts` of what is left, at least `count/(16·parts)` and `minimum`, in multiples of `multiple`.
/// Few chunks (six for GPT-2's matrices on two threads, so five partial sums), and a tail still
/// fine enough for a thread the machine slows down to take less of it. A single chunk when `parts`
/// is 1.
package func fewPartialChunks(_ count: Int, parts: Int, minimum: Int, multiple: Int = 4) -> [Range<Int>] {
    guard parts > 1 else { return [0..<count] }
    func rounded(_ size: Int) -> Int { (size + multiple - 1) / multiple * multiple }
    var chunks: [Range<Int>] = []
    var start = 0
    while start < count {
        let size = chunks.count < parts ? rounded(3 * count / (4 * parts))
            : rounded(max(minimum, count / (16 * parts), (count - start) / parts))
        chunks.append(start..<min(count, start + max(size, multiple)))
        start = chunks.last!.upperBound
    }
    return chunks
}

/// Calls `body(index, chunks[index])` for every chunk, in parallel on ``WorkerPool``: each thread
/// takes the next chunk nobody has taken until none is left. Unlike ``parallelRanges(_:minimumPerPart:_:)``'s
/// fixed shares, a thread the machine slows down (another process, the hypervisor taking its vCPU)
/// ends up with less of the work instead of keeping the others waiting at the end (with fixed
/// halves, decoding lost a measurable part of its parallel time to that wait).
package func parallelChunks(_ chunks: [Range<Int>], _ body: (Int, Range<Int>) -> Void) {
    let next = Atomic<Int>(0)
    WorkerPool.shared.run(parts: min(parallelism, chunks.count)) { _ in
        while case let index = next.add(1, ordering: .relaxed).oldValue, index < chunks.count {
            body(index, chunks[index])
        }
    }
}
