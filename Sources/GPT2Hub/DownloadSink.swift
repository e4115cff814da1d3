import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A download's `blobs/ETAG.incomplete` file: appended to as bytes arrive, hashed on the way
/// when the hub gave a SHA-256, and resumed from its length by the next run after an interruption.
final class DownloadSink {
    let file: String
    let partial: URL
    let expectedSize: Int64?
    /// Bytes in the partial file.
    private(set) var written: Int64 = 0
    /// Bytes received by this run.
    private(set) var fetched: Int64 = 0
    private var descriptor: Int32
    private var hasher: SHA256?
    private var sawFirstChunk = false

    init(file: String, partial: URL, expectedSize: Int64?, checksum: Bool) throws(HubError) {
        self.file = file
        self.partial = partial
        self.expectedSize = expectedSize
        descriptor = open(partial.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.writeError(file, partial) }
        written = Int64(lseek(descriptor, 0, SEEK_END))
        if let expectedSize, written > expectedSize { try restart() }
        if checksum {
            hasher = SHA256()
            try hashExistingBytes()
        }
    }

    deinit { close(keeping: true) }

    /// Appends a piece of the body. A 200 to a range request is the whole file again: start over.
    func append(_ data: Data, response: HTTPURLResponse) throws(HubError) {
        if !sawFirstChunk {
            sawFirstChunk = true
            if response.statusCode == 200 && written > 0 { try restart() }
        }
        if let expectedSize, written + Int64(data.count) > expectedSize {
            throw HubError(.badResponse, "\(file): more bytes arrived than the \(expectedSize) the hub announced")
        }
        let failed = data.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                offset += n
            }
            hasher?.update(bytes)
            return false
        }
        if failed { throw Self.writeError(file, partial) }
        written += Int64(data.count)
        fetched += Int64(data.count)
    }

    /// Closes the file; deletes it unless `keeping` (an interruption keeps it to resume from).
    func close(keeping: Bool) {
        if descriptor >= 0 {
            Foundation.close(descriptor)
            descriptor = -1
        }
        if !keeping { unlink(partial.path) }
    }

    func digest() throws(HubError) -> String {
        guard let hasher else { throw HubError(.badResponse, "\(file): no checksum to compare") }
        return hasher.hexDigest()
    }

    private func restart() throws(HubError) {
        guard ftruncate(descriptor, 0) == 0 else { throw Self.writeError(file, partial) }
        written = 0
        if hasher != nil { hasher = SHA256() }
    }

    private func hashExistingBytes() throws(HubError) {
        guard written > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < written {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, off_t(offset)) }
            guard n > 0 else { throw Self.writeError(file, partial) }
            buffer.withUnsafeBytes { hasher?.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += Int64(n)
        }
    }

    private static func writeError(_ file: String, _ partial: URL) -> HubError {
        let reason = String(cString: strerror(errno))
        return HubError(.cacheWrite, "\(file): cannot write \(partial.path): \(reason); the partial file was removed")
    }
}
