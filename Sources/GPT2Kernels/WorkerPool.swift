import Foundation
import Synchronization

/// Persistent threads for the engine's own parallel kernels. A decode step makes dozens of short
/// parallel calls; waking a sleeping thread for each (what `DispatchQueue.concurrentPerform` does
/// after a short pause) costs a sizeable part of such a call, so workers spin for a while after
/// each job and only then sleep on a condition variable.
///
/// One job runs at a time: a caller that finds the pool busy (another generation's forward pass
/// on another thread) runs its parts itself, serially.
package final class WorkerPool: @unchecked Sendable {  // `job` is handed over through `generation` (release/acquire)
    /// Shared by every model: the physical cores, less the caller's own.
    package static let shared = WorkerPool(workerCount: max(0, KernelThreads.physicalCoreCount - 1))

    /// How long an idle worker spins before it sleeps: long enough to bridge the serial work
    /// between two parallel kernels, short enough not to take a core from a long BLAS call.
    package static let spinNanoseconds: UInt64 = 200_000

    package let workerCount: Int
    private let generation = Atomic<Int>(0)  // bumped once per job
    private let remaining = Atomic<Int>(0)   // workers still on the current job
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let condition = NSCondition()
    private nonisolated(unsafe) var job: ((Int) -> Void)?

    private init(workerCount: Int) {
        self.workerCount = workerCount
        for index in 0..<workerCount {
            let thread = Thread { [self] in work(index: index + 1) }
            thread.name = "gpt2-worker-\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(part)` for every part in `0..<parts` (at most `workerCount + 1`), the caller
    /// taking part 0, and returns when all have finished.
    package func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts <= workerCount + 1)
        guard parts > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // Every worker takes part in every job (those beyond `parts` with nothing to do), so
            // that `job` is not replaced while any worker may still read it.
            job = { part in if part < parts { body(part) } }
            remaining.store(workerCount, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
            body(0)
            while remaining.load(ordering: .acquiring) > 0 {}
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func work(index: Int) {
        var seen = 0
        while true {
            seen = waitForJob(after: seen)
            job!(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    /// Spins, then sleeps, until `generation` moves past `seen`; returns the new generation.
    private func waitForJob(after seen: Int) -> Int {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        var spins = 0
        while true {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
            spins += 1
            if spins % 1024 == 0, DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        condition.lock()
        defer { condition.unlock() }
        sleepers.add(1, ordering: .sequentiallyConsistent)
        defer { sleepers.subtract(1, ordering: .sequentiallyConsistent) }
        while true {
            let current = generation.load(ordering: .sequentiallyConsistent)
            if current != seen { return current }
            condition.wait()
        }
    }
}
