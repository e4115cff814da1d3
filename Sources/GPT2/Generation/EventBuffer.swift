import Synchronization

/// The events of one streamed generation, between the scheduler's thread, which pushes them as
/// they come, and the task that iterates the stream, which takes them one by one.
///
/// The stream is pulled (`AsyncThrowingStream(unfolding:)`), so each `next()` runs in the
/// consuming task: once that task is cancelled, iteration ends at the next `next()`, even with
/// events still buffered (a plain continuation-fed stream would hand out everything buffered
/// first, and hear of the cancellation only when it ran dry, while the scheduler kept producing).
final class EventBuffer: Sendable {
    private struct State {
        var events: [GenerationEvent] = []
        var head = 0
        /// nil while open; then the end: nil for a normal one, or the error.
        var end: (any Error)?? = nil
        var stopped = false
        var waiter: CheckedContinuation<GenerationEvent?, any Error>?
    }
    private let state = Mutex(State())

    /// Adds an event (scheduler's thread).
    func push(_ event: GenerationEvent) {
        let waiter = state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return Optional(waiter)
            }
            state.events.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the events, normally or with `error` (scheduler's thread).
    func finish(_ error: (any Error)?) {
        let waiter = state.withLock { state in
            state.end = .some(error)
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    /// Ends iteration at once: the consumer went away.
    func stop() {
        let waiter = state.withLock { state in
            state.stopped = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, waiting for it if need be; nil at the end.
    func next() async throws -> GenerationEvent? {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<GenerationEvent?, any Error>? = state.withLock { state in
                if state.stopped { return .success(nil) }
                if state.head < state.events.count {
                    defer { state.head += 1 }
                    return .success(state.events[state.head])
                }
                if let end = state.end { return end.map { .failure($0) } ?? .success(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// Cancels its request when the stream that holds it goes away (its consumer broke out of the loop
/// or dropped it).
final class StreamOwner: Sendable {
    let request: GenerationRequest
    init(_ request: GenerationRequest) { self.request = request }
    deinit { request.cancel() }
}
