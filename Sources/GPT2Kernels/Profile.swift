import Dispatch
import Synchronization

/// Where the time of kernel calls goes, by the name the caller gives each call (the layer's name:
/// `ln_1`, `c_attn`, `attention`), as ggml times the nodes of its graph: what `gpt2-bench model
/// --breakdown` reports. Off unless started; a call then costs one atomic load. Counts every call
/// of the process while on, from any thread, so profile one workload at a time.
package enum KernelProfile {
    private static let isOn = Atomic<Bool>(false)
    /// Nanoseconds per name, in the order the names were first seen.
    private static let totals = Mutex<[(name: String, nanoseconds: Int)]>([])

    /// Clears the totals and starts counting.
    package static func start() {
        totals.withLock { $0 = [] }
        isOn.store(true, ordering: .releasing)
    }

    /// Stops counting and returns the seconds spent under each name since ``start()``.
    package static func stop() -> [(name: String, seconds: Double)] {
        isOn.store(false, ordering: .releasing)
        return totals.withLock { $0.map { ($0.name, Double($0.nanoseconds) / 1e9) } }
    }

    /// Runs `body`, booking its time to `name` while profiling is on.
    @inline(__always)
    package static func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard isOn.load(ordering: .relaxed) else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = Int(DispatchTime.now().uptimeNanoseconds - start)
            totals.withLock { totals in
                if let i = totals.firstIndex(where: { $0.name == name }) {
                    totals[i].nanoseconds += elapsed
                } else {
                    totals.append((name, elapsed))
                }
            }
        }
        return try body()
    }
}
