#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file, unmapped when the last reference goes away.
///
/// Weights are used in place from the map, so this object must outlive every pointer into it;
/// `WeightStore` keeps it alive for as long as the model exists.
final class MappedFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    let url: URL
    let bytes: UnsafeRawBufferPointer

    init(url: URL) throws {
        self.url = url
        // non-blocking: opening a FIFO for reading would otherwise wait for a writer (refused below)
        let fd = open(url.path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            throw ModelLoadingError(.missingFile, file: url, "cannot open file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelLoadingError(.missingFile, file: url, "cannot stat file (\(String(cString: strerror(errno))))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelLoadingError(.missingFile, file: url, "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            throw ModelLoadingError(.invalidSafetensors, file: url, "file is empty")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            let error = errno
            // no address space for it (a memory limit) is the machine's limit, not a missing file
            throw ModelLoadingError(error == ENOMEM ? .outOfMemory : .missingFile, file: url,
                                    "cannot map file (\(String(cString: strerror(error))))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Reads `range` of the file through `body`, then lets the kernel drop those pages from this
    /// process: for tensors that are copied or converted out, so that loading does not hold the
    /// file and its copy in memory at once. Pages are faulted in with one call first (Linux).
    func withTransientBytes<R, E: Error>(_ range: Range<Int>, _ body: (UnsafeRawPointer) throws(E) -> R) throws(E) -> R {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let base = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        let start = range.lowerBound / pageSize * pageSize
        let length = range.upperBound - start
        #if os(Linux)
        _ = madvise(base + start, length, 22 /* MADV_POPULATE_READ, Linux 5.14+; a no-op error before */)
        #endif
        defer { _ = madvise(base + start, length, MADV_DONTNEED) }  // private, never written: re-read if touched again
        return try body(UnsafeRawPointer(base + range.lowerBound))
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }
}
