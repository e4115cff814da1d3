import Foundation
import Testing

/// What a test waited for in vain (``waitUntil(_:limit:sourceLocation:_:)``).
package struct WaitedInVain: Error, CustomStringConvertible {
    package let description: String
}

/// Polls `condition` every millisecond until it holds. After `limit` it records an issue naming
/// `what` and throws, so that a test whose condition never comes fails instead of hanging the run.
package func waitUntil(_ what: String, limit: Duration = .seconds(120), sourceLocation: SourceLocation = #_sourceLocation,
                       _ condition: () -> Bool) async throws {
    let start = ContinuousClock.now
    while !condition() {
        guard ContinuousClock.now - start < limit else {
            Issue.record("waited \(limit) for \(what)", sourceLocation: sourceLocation)
            throw WaitedInVain(description: "waited \(limit) for \(what)")
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// Waits for `semaphore` up to `seconds`, on a Dispatch thread: the concurrency pool has only as
/// many threads as cores, and one blocked there stalls every test waiting for a turn on it.
/// Whether it was signalled in time.
package func signalled(_ semaphore: DispatchSemaphore, within seconds: Double = 120) async -> Bool {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: semaphore.wait(timeout: .now() + seconds) == .success) }
    }
}
