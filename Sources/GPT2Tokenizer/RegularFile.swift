import Foundation

/// Why a model or tokenizer file could not be read whole (``readWholeFile(_:limit:)``).
package enum WholeFileError: Error, Equatable {
    /// It cannot be opened or read; the system's reason.
    case unreadable(String)
    /// A FIFO, a device or a directory, not a regular file.
    case notRegularFile
    /// It holds more than `limit` bytes: `size` of them, where the file system said so before
    /// anything was read (nil for a file that grew past the limit as it was read).
    case tooLarge(size: Int?, limit: Int)

    /// What is wrong, for a message that names the file first.
    package var detail: String {
        switch self {
        case .unreadable(let reason): "cannot read the file (\(reason))"
        case .notRegularFile: "not a regular file"
        case .tooLarge(let size?, let limit): "\(size) bytes, over the \(limit >> 20) MB limit for this file"
        case .tooLarge(nil, let limit): "more than \(limit) bytes, over the \(limit >> 20) MB limit for this file"
        }
    }
}

/// The bytes of the file at `url`, in one buffer. Model and tokenizer files are read whole, so
/// anything but a regular file is refused before it is read (a FIFO named `config.json` would
/// block the read forever, a device might never end), and so is a file of more than `limit`
/// bytes: by its size before reading, and by what was read for one that grows or reports no size
/// (as `/proc`'s do), so that a hostile or mistaken file costs at most `limit` bytes.
package func readWholeFile(_ url: URL, limit: Int) throws(WholeFileError) -> [UInt8] {
    // non-blocking: opening a FIFO for reading would otherwise wait for a writer
    let descriptor = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else { throw .unreadable(String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw .unreadable(String(cString: strerror(errno))) }
    guard info.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile }
    let size = Int(info.st_size)
    guard size <= limit else { throw .tooLarge(size: size, limit: limit) }
    // a byte more than the size, so that the end is seen without growing the buffer
    var bytes = [UInt8](repeating: 0, count: size + 1)
    var count = 0
    while true {
        if count == bytes.count {
            guard count <= limit else { throw .tooLarge(size: nil, limit: limit) }
            bytes.append(contentsOf: repeatElement(0, count: min(count, limit + 1 - count)))
        }
        let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
        if got == 0 { break }
        if got < 0 {
            if errno == EINTR { continue }
            throw .unreadable(String(cString: strerror(errno)))
        }
        count += got
    }
    bytes.removeSubrange(count...)
    return bytes
}
