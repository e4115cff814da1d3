import Foundation

/// Every byte the command writes to standard output or standard error, or reads from standard
/// input, goes through here.
///
/// A failed write to standard output (a full disk, a device error) becomes a `CLIError` with exit
/// code 74 instead of a trap, or text silently lost. A closed pipe is not such a failure: as for
/// any Unix filter, SIGPIPE (left at its default action) ends the process, with status 141.
enum Console {
    /// Writes `text` to standard output, all of it or an error.
    static func out(_ text: String) throws {
        try out(Data(text.utf8))
    }

    /// Writes `data` to standard output, all of it or an error. Appended to a regular file it is
    /// all or nothing: a write cut short (a full disk) is taken back, so no half JSON line is left.
    static func out(_ data: Data) throws {
        let end = appendOffset()
        if let failure = writeAll(data, to: STDOUT_FILENO) {
            if let end, ftruncate(STDOUT_FILENO, end) == 0 { lseek(STDOUT_FILENO, end, SEEK_SET) }
            throw CLIError.io("standard output: \(failure)")
        }
    }

    private static let stdoutIsRegularFile: Bool = {
        var status = stat()
        return fstat(STDOUT_FILENO, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }()

    /// Where standard output is, when it is a regular file written at its end (what a cut-short
    /// write can be taken back to without touching bytes that were there before).
    private static func appendOffset() -> off_t? {
        guard stdoutIsRegularFile else { return nil }
        var status = stat()
        let offset = lseek(STDOUT_FILENO, 0, SEEK_CUR)
        return offset >= 0 && fstat(STDOUT_FILENO, &status) == 0 && offset == status.st_size ? offset : nil
    }

    /// Writes `text` to standard error. A failure there has nowhere to be reported and is ignored;
    /// the exit code still tells the outcome.
    static func err(_ text: String) {
        _ = writeAll(Data(text.utf8), to: STDERR_FILENO)
    }

    /// Reads standard input to its end; a failed read (standard input a directory, a device
    /// error) is an error with exit code 74.
    static func readInput() throws -> Data {
        try InputText.readAll(STDIN_FILENO, source: "standard input")
    }

    /// Writes every byte, resuming after partial writes, signals and a full non-blocking pipe; the
    /// reason it failed, or nil.
    private static func writeAll(_ data: Data, to descriptor: Int32) -> String? {
        data.withUnsafeBytes { buffer -> String? in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        // a non-blocking descriptor (inherited from a shell or a parent): wait until it takes more
                        var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&ready, 1, -1)
                        continue
                    }
                    return String(cString: strerror(errno))
                }
                offset += written
            }
            return nil
        }
    }
}
