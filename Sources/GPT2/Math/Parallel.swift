/// Threads for the engine's matrix products (OpenBLAS single-threaded, split across the pool) and
/// its own kernels; set by ``BLASBackend/setThreadCount(_:)``.
let kernelThreadCount = LockedCounter(BLASBackend.physicalCoreCount)

/// Most parts a parallel kernel is split into: the threads asked for, at most the pool's.
var parallelism: Int { min(kernelThreadCount.value, WorkerPool.shared.workerCount + 1) }

/// Calls `body(range)` for disjoint ranges covering `0..<count`, in parallel on ``WorkerPool``
/// when the work is large enough to pay for it (about `minimumPerPart` elements of work per part).
func parallelRanges(_ count: Int, minimumPerPart: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let pool = WorkerPool.shared
    let parts = max(1, min(parallelism, count / max(1, minimumPerPart)))
    if parts == 1 { return body(0..<count) }
    let size = (count + parts - 1) / parts
    pool.run(parts: parts) { part in
        let range = (part * size)..<min(count, (part + 1) * size)
        if !range.isEmpty { body(range) }
    }
}
