/// Threads for the engine's own element-wise and row-wise kernels (set together with BLAS's by
/// ``BLASBackend/setThreadCount(_:)``), so that the work between two matrix products does not
/// leave all but one core idle.
let kernelThreadCount = LockedCounter(BLASBackend.physicalCoreCount)

/// Calls `body(range)` for disjoint ranges covering `0..<count`, in parallel on ``WorkerPool``
/// when the work is large enough to pay for it (about `minimumPerPart` elements of work per part).
func parallelRanges(_ count: Int, minimumPerPart: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let pool = WorkerPool.shared
    let parts = max(1, min(kernelThreadCount.value, pool.workerCount + 1, count / max(1, minimumPerPart)))
    if parts == 1 { return body(0..<count) }
    let size = (count + parts - 1) / parts
    pool.run(parts: parts) { part in
        let range = (part * size)..<min(count, (part + 1) * size)
        if !range.isEmpty { body(range) }
    }
}
