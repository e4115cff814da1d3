import Dispatch
import Synchronization

/// Where the time of forward passes goes, operation by operation: what `gpt2-bench model
/// --breakdown` reports. Off unless started; a pass costs one flag load per operation then.
/// Counts every forward pass of the process while on (from any thread), so profile one workload
/// at a time.
@_spi(Profiling) public enum ForwardProfile {
    /// The steps of a forward pass, in order, by GPT-2's names.
    public enum Operation: String, CaseIterable, Sendable {
        case embedding = "wte+wpe"
        case ln_1
        case c_attn
        /// The new keys and values into the cache, then softmax(q·Kᵀ)·V over every cached position.
        case attention
        case attn_c_proj = "attn.c_proj"
        case ln_2
        /// `c_fc` and the activation (GELU or the configured one) on its output, which the
        /// decode kernels apply as they go.
        case c_fc
        case mlp_c_proj = "mlp.c_proj"
        case ln_f
        case lm_head
    }

    private static let isOn = Atomic<Bool>(false)
    private static let totals = Mutex([Int](repeating: 0, count: Operation.allCases.count))

    /// Clears the totals and starts counting.
    public static func start() {
        totals.withLock { $0 = [Int](repeating: 0, count: Operation.allCases.count) }
        isOn.store(true, ordering: .releasing)
    }

    /// Stops counting and returns the seconds spent in each operation since ``start()``.
    public static func stop() -> [(operation: Operation, seconds: Double)] {
        isOn.store(false, ordering: .releasing)
        let nanoseconds = totals.withLock { $0 }
        return Operation.allCases.enumerated().map { ($1, Double(nanoseconds[$0]) / 1e9) }
    }

    /// One forward pass's stopwatch: ``mark(_:)`` after each operation books the time since the
    /// previous mark to it; ``commit()`` adds the pass to the totals.
    struct Laps {
        private var nanoseconds: [Int]?  // nil when profiling is off
        private var last: UInt64 = 0

        init() {
            guard ForwardProfile.isOn.load(ordering: .acquiring) else { return }
            nanoseconds = [Int](repeating: 0, count: Operation.allCases.count)
            last = DispatchTime.now().uptimeNanoseconds
        }

        mutating func mark(_ operation: Operation) {
            guard nanoseconds != nil else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            nanoseconds![Operation.allCases.firstIndex(of: operation)!] += Int(now - last)
            last = now
        }

        func commit() {
            guard let nanoseconds else { return }
            ForwardProfile.totals.withLock { totals in
                for i in totals.indices { totals[i] += nanoseconds[i] }
            }
        }
    }
}
