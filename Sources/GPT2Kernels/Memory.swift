#if canImport(CBLAS)
import CBLAS
#endif
import Foundation

/// `bytes` (at least 1) of uninitialized memory for data that is streamed whole again and again
/// (resident weights, KV caches), or nil when there is none: from 1 MB up aligned to 2 MB, rounded
/// up to whole 2 MB pages and, on Linux, backed by transparent huge pages, since with 4 KB pages
/// the TLB misses of such a stream cost measurable bandwidth. Release it with `free`.
package func allocateStreamedMemory(bytes: Int) -> UnsafeMutableRawPointer? {
    let size = streamedAllocationBytes(bytes)
    let large = size >= hugePage / 2
    var raw: UnsafeMutableRawPointer?
    guard posix_memalign(&raw, large ? hugePage : 64, max(1, size)) == 0, let raw else { return nil }
    #if os(Linux)
    if large { _ = madvise(raw, size, 14 /* MADV_HUGEPAGE */) }
    #endif
    return raw
}

private let hugePage = 1 << 21

/// The bytes ``allocateStreamedMemory(bytes:)`` takes for `bytes`: from 1 MB up, whole 2 MB
/// pages, which a growing buffer can fill rather than leave unused.
package func streamedAllocationBytes(_ bytes: Int) -> Int {
    guard bytes >= hugePage / 2, bytes <= Int.max - hugePage else { return bytes }  // too large for any machine: left to fail
    return (bytes + hugePage - 1) / hugePage * hugePage
}

/// Asks for the cache line `ahead` bytes past `offset` in each of four weight streams, once per 64
/// bytes of them: where the thread reads next. The hardware prefetchers wait for misses, which a
/// batched step's later passes over the same weights (L1 hits) do not make; asked for here, the
/// next weights arrive while those passes compute (Benchmarks/README.md). Never faults.
@inline(__always)
package func prefetch(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                      offset: Int, ahead: Int) {
    #if canImport(CBLAS)
    guard offset & 63 == 0 else { return }
    let next = offset &+ ahead
    gpt2_prefetch(a + next); gpt2_prefetch(b + next); gpt2_prefetch(c + next); gpt2_prefetch(d + next)
    #endif
}
