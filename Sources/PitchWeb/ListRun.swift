import Foundation
import SalesPitch

/// One uploaded customer list being written, as `generate pitch --customers` writes it: the
/// customers already in the workspace are skipped, each finished customer's pitches are appended
/// at once. Keeps the counts of the page's progress bar and the rows rejected (with their lines):
/// `total` customers to write, of which `done` are (with pitches or rejected).
final class ListRun: @unchecked Sendable {  // all state behind `lock`
    let id: String
    let name: String
    let started = Date()
    private let lock = NSLock()
    private let total: Int, skipped: Int
    private var done = 0, pitches = 0, passed = 0
    private var rejected: [PitchRejection]
    private var finished: Date?
    private var stopped = false
    private var failure: String?
    private var task: Task<Void, Never>?

    init(id: String, name: String, total: Int, skipped: Int, rejected: [PitchRejection]) {
        self.id = id
        self.name = name
        self.total = total
        self.skipped = skipped
        self.rejected = rejected
    }

    var isRunning: Bool { lock.withLock { finished == nil } }

    /// Writes the customers' missing variants with `generator`, `parallel` at a time, into `workspace`.
    func start(_ profiles: [CustomerProfile], generator: PitchGenerator, parallel: Int, workspace: Workspace,
               missing: @escaping @Sendable (CustomerProfile) -> [Int]?) {
        let task = Task {
            for await outcome in generator.pitches(for: profiles, parallel: parallel, variants: missing) {
                switch outcome {
                case .pitches(_, let made):
                    do {
                        _ = try await workspace.append(made, model: generator.backend.modelName)
                    } catch {
                        lock.withLock { failure = (error as? PageError)?.message ?? "\(error)" }
                        break
                    }
                    lock.withLock {
                        done += 1
                        pitches += made.count
                        passed += made.count(where: \.passedAllChecks)
                    }
                case .rejected(let rejection):  // its prompt is too long, say: done, without a pitch
                    lock.withLock {
                        done += 1
                        rejected.append(rejection)
                    }
                }
                if lock.withLock({ failure != nil }) { break }
            }
            lock.withLock { finished = Date() }
        }
        lock.withLock { self.task = task }
    }

    /// Stops the run: customers in progress are dropped (their pitches are not written).
    func stop() {
        lock.withLock {
            stopped = finished == nil
            return task
        }?.cancel()
    }

    /// What the page shows: counts, the time left at the pace so far, the rows rejected.
    var status: [String: Any] {
        lock.withLock {
            let elapsed = (finished ?? Date()).timeIntervalSince(started)
            var status: [String: Any] = [
                "id": id, "name": name, "total": total, "skipped": skipped, "done": done, "pitches": pitches, "passed": passed,
                "running": finished == nil, "stopped": stopped, "elapsed_s": elapsed,
                "rejected": rejected.sorted { ($0.line ?? 0) < ($1.line ?? 0) }.map { rejection in
                    ["line": rejection.line ?? NSNull(), "id": rejection.customerID ?? NSNull(), "reason": rejection.reason] as [String: Any]
                },
            ]
            if finished == nil && done > 0 { status["eta_s"] = elapsed / Double(done) * Double(total - done) }
            if let failure { status["error"] = failure }
            return status
        }
    }
}
