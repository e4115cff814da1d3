import Foundation
import GPT2Kernels
import Synchronization

/// One generation asked of a ``TextGenerator``: waiting for a place in the batch, then running.
final class GenerationRequest: Sendable {
    let prompt: [Int]
    let parameters: GenerationParameters
    let processors: [any LogitProcessor]
    /// Receives the request's events in order, on the scheduler's thread.
    let emit: @Sendable (GenerationEvent) -> Void
    /// Called once, after the last event: with nil when the request ended (finished or
    /// cancelled), or with the error that failed it.
    let complete: @Sendable ((any Error)?) -> Void
    /// A cancelled request still gets its `.finished` event (what `generate` returns), or not (a
    /// cancelled stream just ends).
    let finishesWhenCancelled: Bool
    private let cancelled = Atomic<Bool>(false)

    init(prompt: [Int], parameters: GenerationParameters, processors: [any LogitProcessor], finishesWhenCancelled: Bool,
         emit: @escaping @Sendable (GenerationEvent) -> Void, complete: @escaping @Sendable ((any Error)?) -> Void) {
        self.prompt = prompt
        self.parameters = parameters
        self.processors = processors
        self.finishesWhenCancelled = finishesWhenCancelled
        self.emit = emit
        self.complete = complete
    }

    /// Asks the scheduler to drop the request: it leaves before the next step.
    func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// Runs every generation of one ``TextGenerator`` as a continuous batch (see the DocC article
/// "Batching"). Requests wait in order of arrival; up to `maxBatchSize` run at once. Each step is
/// one forward pass over one new token of every sequence that is generating, plus at most
/// `prefillChunk` tokens of the prompt of one sequence still reading it; then every sequence that
/// got logits samples its next token. A sequence leaves the batch in the step it ends, and its
/// place goes to the next request waiting.
///
/// The loop runs on a thread of its own while there is work, and ends when there is none.
final class Scheduler: @unchecked Sendable {  // `waiting` and `running` are guarded by `lock`; the rest belongs to the loop's thread
    let model: GPT2Model
    let tokenizer: GPT2Tokenizer
    let maxBatchSize: Int
    let prefillChunk: Int
    /// The tokens that end a generation (unless it ignores them): the checkpoint's, else `<|endoftext|>`.
    let endOfTextIDs: Set<Int>
    /// Sequences in the batch now, and tokens generated so far: tests watch these.
    let activeCount = LockedCounter()
    let tokensGenerated = LockedCounter()
    /// Where the time of the steps without a prompt chunk went: what the scheduler costs on top
    /// of the forward passes (`gpt2-bench generate` reports it).
    let stepTimes = StepTimes()

    private let lock = NSLock()
    private var waiting: [GenerationRequest] = []
    private var running = false

    private var active: [Sequence] = []
    private var pool: [KVCache] = []

    /// A request in the batch.
    private final class Sequence {
        let request: GenerationRequest
        let cache: KVCache
        var state: SequenceState
        /// Prompt tokens in the cache so far.
        var prefilled = 0
        /// The token sampled last, which the next step feeds in; nil while the prompt is read.
        var pending: Int?
        let admitted = ContinuousClock.now
        var firstToken: ContinuousClock.Instant?

        init(request: GenerationRequest, cache: KVCache, state: SequenceState) {
            self.request = request
            self.cache = cache
            self.state = state
        }
    }

    init(model: GPT2Model, tokenizer: GPT2Tokenizer, maxBatchSize: Int, prefillChunk: Int) {
        self.model = model
        self.tokenizer = tokenizer
        endOfTextIDs = Set(model.endOfTextIDs ?? [tokenizer.endOfTextID])
        self.maxBatchSize = maxBatchSize
        self.prefillChunk = prefillChunk
    }

    /// Queues `request`; it starts when a place in the batch is free.
    func submit(_ request: GenerationRequest) {
        lock.lock()
        waiting.append(request)
        if !running {
            running = true
            let thread = Thread { [self] in loop() }
            thread.name = "gpt2-scheduler"
            thread.start()
        }
        lock.unlock()
    }

    private func loop() {
        while true {
            lock.lock()
            // waiting requests that were cancelled leave now; the first ones still wanted start
            let (cancelled, wanted) = (waiting.filter(\.isCancelled), waiting.filter { !$0.isCancelled })
            let admitted = Array(wanted.prefix(maxBatchSize - active.count))
            waiting = Array(wanted.dropFirst(admitted.count))
            if active.isEmpty && admitted.isEmpty && cancelled.isEmpty {
                running = false
                lock.unlock()
                return
            }
            lock.unlock()

            for request in cancelled { end(request, generated: 0, reason: .cancelled) }
            for request in admitted { admit(request) }
            for sequence in active where sequence.request.isCancelled { finish(sequence, reason: .cancelled) }
            if !active.isEmpty { step() }
        }
    }

    /// Starts `request`: checks it, and gives it a cache (or ends it at once, if it asks for no
    /// tokens or its prompt fills the context).
    private func admit(_ request: GenerationRequest) {
        let prompt = request.prompt, contextLength = model.config.contextLength
        do {
            try request.parameters.validate(vocabularySize: model.config.vocabularySize)
            try TextGenerator.checkPrompt(prompt, config: model.config)
        } catch {
            return request.complete(error)
        }
        guard request.parameters.maxNewTokens > 0 && prompt.count < contextLength else {
            return end(request, generated: 0, reason: request.parameters.maxNewTokens > 0 ? .contextFull : .maxTokens)
        }
        // room for the prompt and the tokens that can still come; no maxNewTokens (up to Int.max) overflows
        let capacity = prompt.count + min(request.parameters.maxNewTokens, contextLength - prompt.count)
        let cache: KVCache
        do {
            cache = try takeCache(capacity: capacity)
        } catch {
            return request.complete(error)
        }
        let state = SequenceState(prompt: prompt, parameters: request.parameters, processors: request.processors,
                                  tokenizer: tokenizer, contextLength: contextLength, endOfTextIDs: endOfTextIDs)
        active.append(Sequence(request: request, cache: cache, state: state))
        activeCount.add(1)
    }

    /// One forward pass: a token of every generating sequence, then a chunk of the first prompt
    /// still being read; then the next token of every sequence that got logits.
    private func step() {
        let started = ContinuousClock.now
        var members: [Sequence] = []
        var batch: [(tokens: [Int], cache: KVCache)] = []
        var rows: [LogitRows] = []
        for sequence in active {
            guard let token = sequence.pending else { continue }
            // a cache that cannot grow fails its own request here, not the whole batch in `forward`
            do { try sequence.cache.reserve(sequence.cache.count + 1) } catch {
                fail(sequence, error)
                continue
            }
            members.append(sequence)
            batch.append(([token], sequence.cache))
            rows.append(.last)
        }
        var reader: Sequence?  // the first sequence still reading its prompt, with a chunk of it
        if let sequence = active.first(where: { $0.pending == nil }) {
            let prompt = sequence.request.prompt
            let end = min(prompt.count, sequence.prefilled + prefillChunk)
            do {
                try sequence.cache.reserve(end)
                members.append(sequence)
                batch.append((Array(prompt[sequence.prefilled..<end]), sequence.cache))
                rows.append(end == prompt.count ? .last : .none)
                sequence.prefilled = end
                reader = sequence
            } catch {
                fail(sequence, error)
            }
        }
        guard !batch.isEmpty else { return }

        let logits: [Logits]
        do {
            logits = try model.forward(batch: batch, logits: rows)
        } catch {
            for sequence in members { fail(sequence, error) }
            return
        }
        let forwardEnded = ContinuousClock.now
        defer {
            if reader == nil {  // a decode step: no prompt being read
                stepTimes.add(rows: batch.count, forward: forwardEnded - started, step: .now - started)
            }
        }
        // The sequences with logits pick their next tokens in parallel on the kernels' workers
        // (they share nothing), then their events go out in order on this thread.
        let sampling = members.indices.filter { logits[$0].rowCount > 0 }
        var outcomes = [Result<(token: GeneratedToken, stop: StopReason?), GenerationError>?](repeating: nil, count: sampling.count)
        outcomes.withUnsafeMutableBufferPointer { outcomes in
            parallelRanges(sampling.count, minimumPerPart: 1) { range in
                for j in range {
                    let (sequence, logits) = (members[sampling[j]], logits[sampling[j]])
                    outcomes[j] = Result { () throws(GenerationError) in try sequence.state.next(logits: logits.values) }
                }
            }
        }
        for (j, outcome) in outcomes.enumerated() {
            let sequence = members[sampling[j]]
            let token: GeneratedToken, reason: StopReason?
            switch outcome! {
            case .success(let next): (token, reason) = next
            case .failure(let error):
                // only this sequence: the batch's rows are computed independently
                fail(sequence, error)
                continue
            }
            tokensGenerated.add(1)
            if sequence.firstToken == nil { sequence.firstToken = .now }
            sequence.request.emit(.token(token))
            if let reason {
                finish(sequence, reason: reason)
            } else {
                sequence.pending = token.id
            }
        }
    }

    /// Ends a running sequence: its summary (unless a stream was cancelled), its cache back to the pool.
    private func finish(_ sequence: Sequence, reason: StopReason) {
        let now = ContinuousClock.now, first = sequence.firstToken ?? now
        end(sequence.request, generated: sequence.state.generatedCount, reason: reason,
            promptSeconds: (first - sequence.admitted).seconds, generationSeconds: (now - first).seconds)
        leave(sequence)
    }

    private func fail(_ sequence: Sequence, _ error: any Error) {
        sequence.request.complete(error)
        leave(sequence)
    }

    private func leave(_ sequence: Sequence) {
        active.removeAll { $0 === sequence }
        activeCount.add(-1)
        if pool.count < maxBatchSize { pool.append(sequence.cache) }
    }

    /// The summary event (unless the request is a cancelled stream), then completion.
    private func end(_ request: GenerationRequest, generated: Int, reason: StopReason,
                     promptSeconds: Double = 0, generationSeconds: Double = 0) {
        if reason != .cancelled || request.finishesWhenCancelled {
            let prompt = request.prompt.count
            request.emit(.finished(GenerationSummary(
                promptTokenCount: prompt, generatedTokenCount: generated, stopReason: reason,
                timings: GenerationTimings(
                    promptSeconds: promptSeconds, generationSeconds: generationSeconds,
                    promptTokensPerSecond: promptSeconds > 0 ? Double(prompt) / promptSeconds : 0,
                    generationTokensPerSecond: generated > 1 && generationSeconds > 0 ? Double(generated - 1) / generationSeconds : 0))))
        }
        request.complete(nil)
    }

    /// A cache with memory for `capacity` positions, so that it never grows (a copy of every
    /// cached row) in a step. Pooled caches can hold the whole context, so any will do: the
    /// smallest whose memory already holds `capacity` positions, else the largest (the least to
    /// grow); a new one if none is pooled. Memory not yet written is not resident.
    private func takeCache(capacity: Int) throws(GenerationError) -> KVCache {
        let fitting = pool.indices.filter { pool[$0].allocatedPositions >= capacity }
        let cache: KVCache
        if let best = fitting.min(by: { pool[$0].allocatedPositions < pool[$1].allocatedPositions })
            ?? pool.indices.max(by: { pool[$0].allocatedPositions < pool[$1].allocatedPositions }) {
            cache = pool.remove(at: best)
            cache.reset()
        } else {
            cache = try model.makeCache()
        }
        try cache.reserve(capacity)
        return cache
    }
}

/// Totals over decode steps (one token per sequence), by the number of sequences in the step.
package final class StepTimes: Sendable {
    package struct Total: Sendable {
        package var steps = 0
        /// Seconds in the forward pass, and in the whole step (the forward pass, sampling, events).
        package var forward = 0.0, step = 0.0
        package init() {}
    }

    private let totals = Mutex<[Int: Total]>([:])

    func add(rows: Int, forward: Duration, step: Duration) {
        totals.withLock { totals in
            totals[rows, default: Total()].steps += 1
            totals[rows]!.forward += forward.seconds
            totals[rows]!.step += step.seconds
        }
    }

    package var byRows: [Int: Total] { totals.withLock { $0 } }
}

extension Duration {
    /// The duration in seconds (for the package's timings and tools).
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
