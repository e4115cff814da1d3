import Foundation
import GPT2Kernels

/// The keys and values of every position a sequence has seen, for every block: the state of one
/// generation. Create one per sequence with ``GPT2Model/makeCache(capacity:)``; a cache is used by
/// one task at a time and is not shared.
public final class KVCache {
    /// Most positions this cache can hold.
    public let capacity: Int
    /// Positions cached so far: the next token goes to position `count`.
    public internal(set) var count = 0

    let layerCount: Int
    let width: Int
    /// [n_layer, capacity, n_embd] each, in huge pages as resident weights are: a decode step reads
    /// every cached row once, from a cold CPU cache (the weights streamed since have evicted it),
    /// where 4 KB pages would add a TLB miss every few rows. Memory is taken as pages are first
    /// touched, and a block's first row touches a 2 MB page of its own, so a cache holds up to
    /// 4 MB per block from its first position on.
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    /// - Throws: ``GenerationError/cacheTooLarge(bytes:positions:)`` when the memory cannot be had
    ///   (its size comes from the request: an error for that request, not a crash).
    init(layerCount: Int, width: Int, capacity: Int) throws(GenerationError) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = capacity
        let (count, overflow) = (layerCount * width).multipliedReportingOverflow(by: capacity)
        let bytes = overflow ? Int.max : count.multipliedReportingOverflow(by: 2 * MemoryLayout<Float>.stride).partialValue
        guard !overflow, let keys = allocateStreamedMemory(bytes: bytes / 2) else {
            throw .cacheTooLarge(bytes: bytes, positions: capacity)
        }
        guard let values = allocateStreamedMemory(bytes: bytes / 2) else {
            free(keys)
            throw .cacheTooLarge(bytes: bytes, positions: capacity)
        }
        self.keys = keys.bindMemory(to: Float.self, capacity: count)
        self.values = values.bindMemory(to: Float.self, capacity: count)
    }

    deinit {
        free(keys)
        free(values)
    }

    /// Forgets every cached position, so the cache can start a new sequence.
    public func reset() { count = 0 }

    /// Forgets the positions from `newCount` on, keeping the ones before.
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate(to:) needs 0...count")
        count = newCount
    }

    /// Keys of block `layer`: [capacity, n_embd].
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * capacity * width }
    /// Values of block `layer`: [capacity, n_embd].
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * capacity * width }
}
