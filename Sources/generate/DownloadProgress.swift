import Foundation
import GPT2Hub
import Synchronization

/// Shows a model download on standard error: on a terminal one bar per file (bytes, rate, time
/// left) redrawn at most ten times a second; otherwise a line when each file starts and ends.
final class DownloadProgress: Sendable {
    private struct State {
        var file = ""
        var lastDraw = ContinuousClock.now - .seconds(1)
        var start = ContinuousClock.now
        var resumedFrom: Int64 = 0
        var barShown = false
    }

    private let repo: String
    private let terminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex(State())

    init(repo: String) { self.repo = repo }

    func show(_ event: DownloadEvent) {
        state.withLock { state in
            switch event {
            case .resolved(_, _, let commit):
                Console.err("generate: \(repo): downloading from the Hugging Face Hub (commit \(commit.prefix(12)))\n")
            case .cached:
                break
            case .started(let file, let size, let resumedFrom):
                state.file = file
                state.start = .now
                state.resumedFrom = resumedFrom
                let resumed = resumedFrom > 0 ? ", resuming at \(Self.size(resumedFrom))" : ""
                if !terminal { Console.err("generate: \(file): \(size.map(Self.size) ?? "size unknown")\(resumed)\n") }
            case .progress(let file, let bytes, let size):
                guard terminal, ContinuousClock.now - state.lastDraw >= .milliseconds(100) else { return }
                state.lastDraw = .now
                state.barShown = true
                Console.err("\r\u{1B}[K" + Self.bar(file: file, bytes: bytes, size: size, since: state.start, resumedFrom: state.resumedFrom))
            case .finished(let file, let fetched, let seconds):
                // a rate says something only for a file that took a while
                let rate = seconds > 0 && fetched >= 1_000_000 ? " (\(Self.megabytes(Int64(Double(fetched) / seconds)))/s)" : ""
                let line = "\(file): \(Self.size(fetched)) in \(String(format: "%.1f", seconds)) s\(rate)"
                Console.err(terminal ? "\r\u{1B}[K\(line)\n" : "generate: \(line)\n")
                state.barShown = false
            }
        }
    }

    /// Ends a bar left open by a failed download, so that the error starts its own line.
    func interrupted() {
        state.withLock { state in
            if state.barShown { Console.err("\n") }
            state.barShown = false
        }
    }

    /// `FILE  [####........]  PERCENT%  DONE/SIZE MB  RATE MB/s  M:SS left`, the bar 24 wide.
    static func bar(file: String, bytes: Int64, size: Int64?, since start: ContinuousClock.Instant, resumedFrom: Int64) -> String {
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        let rate = elapsed > 0 ? Double(bytes - resumedFrom) / elapsed : 0
        guard let size, size > 0 else { return "\(file)  \(megabytes(bytes))  \(megabytes(Int64(rate)))/s" }
        let fraction = min(1, Double(bytes) / Double(size))
        let width = 24
        let filled = Int(fraction * Double(width))
        let left = rate > 0 ? Int(Double(size - bytes) / rate) : nil
        return "\(file)  [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))]"
            + String(format: " %3d%%  ", Int(fraction * 100)) + "\(megabytes(bytes, unit: false))/\(megabytes(size))"
            + "  \(megabytes(Int64(rate)))/s" + (left.map { String(format: "  %d:%02d left", $0 / 60, $0 % 60) } ?? "")
    }

    static func megabytes(_ bytes: Int64, unit: Bool = true) -> String {
        String(format: "%.1f", Double(bytes) / 1e6) + (unit ? " MB" : "")
    }

    /// `665 B`, `1.2 kB`, `24.8 MB`, `1.5 GB`.
    static func size(_ bytes: Int64) -> String {
        switch bytes {
        case ..<1000: return "\(bytes) B"
        case ..<1_000_000: return String(format: "%.1f kB", Double(bytes) / 1e3)
        case ..<1_000_000_000: return megabytes(bytes)
        default: return String(format: "%.2f GB", Double(bytes) / 1e9)
        }
    }
}
