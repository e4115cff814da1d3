import ArgumentParser
import Foundation
import GPT2
import SalesPitch

/// `generate pitch --customers FILE --out FILE`: the whole list, resumable, with rejected rows
/// reported and a progress line.
struct PitchListRun: Sendable {
    let profiles: [CustomerProfile]
    let rejectedRows: [PitchRejection]
    let table: PitchTable
    let errorsURL: URL
    /// (id, variant) pairs already in the pitches file.
    let done: Set<String>
    let model: String
    let quiet: Bool

    init(list: (profiles: [CustomerProfile], rejected: [PitchRejection]), out: URL, errors: URL?, model: String, quiet: Bool) throws {
        profiles = list.profiles
        rejectedRows = list.rejected
        do {
            let (table, rows) = try PitchTable.open(out)
            self.table = table
            done = Set(rows.map(PitchTable.key(of:)))  // every row of a table has both columns
        } catch {
            // an existing file of another kind is bad data; one that cannot be created, an I/O error
            let exists = FileManager.default.fileExists(atPath: out.path)
            throw CLIError(message: "--out \(out.path): \(exists ? "\(error)" : "cannot create the file")", code: exists ? 65 : 74)
        }
        errorsURL = errors ?? out.deletingPathExtension().appendingPathExtension("errors.csv")
        self.model = model
        self.quiet = quiet
    }

    func run(generator: PitchGenerator, parallel: Int) async throws {
        let variants = 1...generator.options.variants
        let missing: @Sendable (CustomerProfile) -> [Int]? = { [done] profile in
            variants.filter { !done.contains(PitchTable.key(profile.id, $0)) }
        }
        let todo = profiles.filter { !(missing($0)?.isEmpty ?? true) }
        let progress = Progress(total: todo.count, skipped: profiles.count - todo.count, quiet: quiet)
        if !done.isEmpty && !quiet && profiles.contains(where: { $0["id"] == nil }) {
            Console.err("generate: warning: --customers rows without an id are matched to --out by their line number: a row added or removed above them since the last run mismatches them (give the list an id column)\n")
        }

        // This run's rejected rows: the errors file starts afresh with them.
        let errorsFile = RejectionLog(url: errorsURL)
        do {
            try errorsFile.start()
        } catch {
            let exists = FileManager.default.fileExists(atPath: errorsURL.path)
            throw CLIError(message: "--errors \(errorsURL.path): \(exists ? "\(error)" : "cannot create the file")", code: exists ? 65 : 74)
        }
        for rejection in rejectedRows { try reject(rejection, errorsFile: errorsFile, progress: progress) }

        let task = Task { [table, model] in
            var passed = 0, pitches = 0
            for await outcome in generator.pitches(for: todo, parallel: parallel, variants: missing) {
                switch outcome {
                case .pitches(_, let made):
                    try table.append(made.map { PitchTable.row($0, model: model) })
                    pitches += made.count
                    passed += made.count(where: \.passedAllChecks)
                    progress.customerDone(pitches: made.count)
                case .rejected(let rejection):
                    try reject(rejection, errorsFile: errorsFile, progress: progress)
                }
            }
            return (pitches: pitches, passed: passed)
        }
        Interruption.shared.watch(task)
        let totals: (pitches: Int, passed: Int)
        do {
            totals = try await task.value
        } catch {
            progress.finish(summary: nil)
            throw CLIError.io("--out \(table.url.path): \(error.localizedDescription)")
        }
        let interrupted = Interruption.shared.isRequested
        let rejected = progress.rejected
        progress.finish(summary: String(
            format: "%@%d customers done, %d pitches (%d passed every check), %d rejected%@, %d already in %@ | %.1f customers/min | seed %llu",
            interrupted ? "interrupted: " : "", progress.done, totals.pitches, totals.passed, rejected,
            rejected > 0 ? " (see \(errorsURL.lastPathComponent))" : "", progress.skipped, table.url.lastPathComponent,
            progress.customersPerMinute, generator.options.seed))
        if interrupted { throw ExitCode(130) }
        if rejected > 0 { throw ExitCode(65) }
    }

    private func reject(_ rejection: PitchRejection, errorsFile: RejectionLog, progress: Progress) throws {
        try errorsFile.append(rejection)
        progress.rejected(message: "--customers " + rejection.description)
    }
}

/// Progress on standard error: on a terminal a live bar, redrawn in place; otherwise a plain line
/// every few seconds. Thread-safe: the clock task and the run both update it.
final class Progress: @unchecked Sendable {  // all state behind `lock`
    private let lock = NSLock()
    let total: Int
    let skipped: Int
    private let quiet: Bool
    private let terminal = isatty(STDERR_FILENO) == 1
    private let start = ContinuousClock.now
    private var lastPlainLine = ContinuousClock.now
    private var doneCount = 0, pitchCount = 0, rejectedCount = 0
    private var ticker: Task<Void, Never>?
    private var finished = false

    init(total: Int, skipped: Int, quiet: Bool) {
        self.total = total
        self.skipped = skipped
        self.quiet = quiet
        guard !quiet else { return }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                self?.tick()
            }
        }
    }

    var done: Int { lock.withLock { doneCount } }
    var rejected: Int { lock.withLock { rejectedCount } }

    var customersPerMinute: Double {
        let minutes = (ContinuousClock.now - start).seconds / 60
        return minutes > 0 ? Double(done) / minutes : 0
    }

    func customerDone(pitches: Int) {
        lock.withLock {
            doneCount += 1
            pitchCount += pitches
        }
        tick()
    }

    func rejected(message: String) {
        lock.withLock { rejectedCount += 1 }
        guard !quiet else { return }
        Console.err((terminal ? "\r\u{1B}[K" : "") + "generate: rejected: \(message)\n")
        tick()
    }

    /// Ends the bar and prints the summary line.
    func finish(summary: String?) {
        ticker?.cancel()
        lock.withLock { finished = true }  // no bar after this
        guard !quiet else { return }
        if terminal { Console.err("\r\u{1B}[K") }
        if let summary { Console.err(summary + "\n") }
    }

    private func tick() {
        guard !quiet else { return }
        let line: String? = lock.withLock {
            guard !finished else { return nil }
            let now = ContinuousClock.now
            let elapsed = (now - start).seconds
            let perMinute = elapsed > 0 ? Double(pitchCount) / elapsed * 60 : 0
            let eta = doneCount > 0 ? elapsed / Double(doneCount) * Double(total - doneCount) : nil
            let etaText = eta.map { String(format: "%d:%02d", Int($0) / 60, Int($0) % 60) } ?? "--:--"
            let counts = String(format: "%d/%d customers | %.1f pitches/min | ETA %@ | %d rejected",
                                doneCount, total, perMinute, etaText, rejectedCount)
            if terminal {
                let width = 24
                let filled = total > 0 ? width * doneCount / total : width
                return "\r\u{1B}[K[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] " + counts
            }
            guard (now - lastPlainLine).seconds >= 5 else { return nil }
            lastPlainLine = now
            return counts + "\n"
        }
        if let line { Console.err(line) }
    }
}
