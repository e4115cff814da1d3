import Foundation

/// An exclusive `flock` on a blob's lock file, the lock Python's `filelock` takes for
/// `huggingface_hub`: a download waits while another process, Python or another `generate`,
/// writes the same blob, then finds it in place.
final class BlobLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Waits for the lock, polling without blocking a thread; cancellation ends the wait.
    static func acquire(_ url: URL, file: String) async throws(HubError) -> BlobLock {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw HubError(.cacheWrite, "\(file): cannot create \(url.deletingLastPathComponent().path): \(error.localizedDescription)")
        }
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw HubError(.cacheWrite, "\(file): cannot open the lock \(url.path): \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw HubError(.cacheWrite, "\(file): cannot lock \(url.path): \(reason)")
            }
            do { try await Task.sleep(for: .milliseconds(100)) } catch {
                close(descriptor)
                throw HubError(.network, "\(file): cancelled while another process downloads it")
            }
        }
        return BlobLock(descriptor: descriptor)
    }

    /// Unlocks (closing the file drops the lock); the lock file stays, as Python leaves it.
    func release() { close(descriptor) }
}
