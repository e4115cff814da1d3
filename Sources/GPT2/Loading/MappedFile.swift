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

    /// `prefault` populates the whole mapping up front (Linux `MAP_POPULATE`): one pass over the
    /// file instead of a page fault every few kilobytes when it is then read front to back.
    init(url: URL, prefault: Bool = false) throws {
        self.url = url
        let fd = open(url.path, O_RDONLY)
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
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | (prefault ? Self.populateFlag : 0), fd, 0), base != MAP_FAILED else {
            throw ModelLoadingError(.missingFile, file: url, "cannot map file (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    #if os(Linux)
    private static let populateFlag = Int32(MAP_POPULATE)
    #else
    private static let populateFlag: Int32 = 0
    #endif

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }
}
