import Foundation
import GPT2Kernels

/// The keys and values of every position a sequence has seen, for every block: the state of one
/// generation. Create one per sequence with ``GPT2Model/makeCache(capacity:)``; a cache is used by
/// one task at a time and is not shared.
///
/// A cache starts with memory for a few positions and grows as the forward pass adds positions,
/// at least doubling each time (so the rows it moves stay proportional to the rows it holds), up
/// to ``capacity``. So a large capacity costs nothing until the positions are used.
public final class KVCache {
    /// Most positions this cache can hold.
    public let capacity: Int
    /// Positions cached so far: the next token goes to position `count`.
    public internal(set) var count = 0
    /// Positions the cache has memory for now, between ``count`` and ``capacity``: the forward
    /// pass grows it when a sequence needs more.
    public private(set) var allocatedPositions: Int

    let layerCount: Int
    let width: Int
    /// [n_layer, allocatedPositions, n_embd] each, in huge pages as resident weights are once
    /// large: a decode step reads every cached row once, from a cold CPU cache (the weights
    /// streamed since have evicted it), where 4 KB pages would add a TLB miss every few rows.
    private(set) var keys: UnsafeMutablePointer<Float>
    private(set) var values: UnsafeMutablePointer<Float>

    /// Bytes a new cache's keys (and as many its values) start from: a few positions of a large
    /// model, a dozen of a small one; the first prompt grows it to what it needs.
    static let initialBytes = 1 << 16

    /// `initialPositions` (tests) replaces the start from ``initialBytes``.
    ///
    /// - Throws: ``GenerationError/cacheTooLarge(bytes:positions:)`` when not even the first
    ///   positions' memory can be had (its size comes from the config: an error, not a crash).
    init(layerCount: Int, width: Int, capacity: Int, initialPositions: Int? = nil) throws(GenerationError) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = capacity
        let (rowFloats, overflow) = layerCount.multipliedReportingOverflow(by: width)
        let (rowBytes, overflow2) = rowFloats.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, !overflow2 else { throw .cacheTooLarge(bytes: Int.max, positions: 1) }
        let start = min(capacity, max(1, initialPositions ?? Self.initialBytes / max(1, rowBytes)))
        (keys, values, allocatedPositions) = try Self.allocate(positions: start, rowFloats: rowFloats, capacity: capacity)
    }

    deinit {
        free(keys)
        free(values)
    }

    /// Forgets every cached position, so the cache can start a new sequence (its memory stays).
    public func reset() { count = 0 }

    /// Forgets the positions from `newCount` on, keeping the ones before.
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate(to:) needs 0...count")
        count = newCount
    }

    /// Keys of block `layer`: [allocatedPositions, n_embd]. Valid until the cache next grows.
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * allocatedPositions * width }
    /// Values of block `layer`: [allocatedPositions, n_embd]. Valid until the cache next grows.
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * allocatedPositions * width }

    /// Makes room for `positions` positions (at most ``capacity``), moving the cached rows into a
    /// larger allocation if needed. On failure the cache is as it was.
    ///
    /// - Throws: ``GenerationError/cacheTooLarge(bytes:positions:)`` when the memory cannot be had.
    package func reserve(_ positions: Int) throws(GenerationError) {
        guard positions > allocatedPositions else { return }
        precondition(positions <= capacity, "reserve(_:) needs at most capacity positions")
        let rowFloats = layerCount * width  // checked by init
        // doubling makes the copies amortised; when that much cannot be had, exactly what is needed may still be
        let doubled = max(positions, allocatedPositions + min(allocatedPositions, capacity - allocatedPositions))
        let grown: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int)
        do {
            grown = try Self.allocate(positions: doubled, rowFloats: rowFloats, capacity: capacity)
        } catch where doubled > positions {
            grown = try Self.allocate(positions: positions, rowFloats: rowFloats, capacity: capacity)
        }
        let (newKeys, newValues, newPositions) = grown
        for layer in 0..<layerCount {
            (newKeys + layer * newPositions * width).update(from: keys(layer: layer), count: count * width)
            (newValues + layer * newPositions * width).update(from: values(layer: layer), count: count * width)
        }
        free(keys)
        free(values)
        (keys, values, allocatedPositions) = (newKeys, newValues, newPositions)
    }

    /// Keys and values for at least `positions` positions, and how many they hold: the positions
    /// that fit in the whole pages the allocation takes anyway, up to `capacity`.
    private static func allocate(positions: Int, rowFloats: Int, capacity: Int)
        throws(GenerationError) -> (keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, positions: Int) {
        let (floats, overflow) = rowFloats.multipliedReportingOverflow(by: positions)
        let (bytes, overflow2) = floats.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, !overflow2, bytes < Int.max / 4 else {
            throw .cacheTooLarge(bytes: Int.max, positions: positions)
        }
        let rowBytes = max(1, rowFloats * MemoryLayout<Float>.stride)
        let fitting = min(capacity, max(positions, streamedAllocationBytes(bytes) / rowBytes))
        let size = fitting * rowBytes
        guard let keys = allocateStreamedMemory(bytes: size) else {
            throw .cacheTooLarge(bytes: 2 * size, positions: fitting)
        }
        guard let values = allocateStreamedMemory(bytes: size) else {
            free(keys)
            throw .cacheTooLarge(bytes: 2 * size, positions: fitting)
        }
        return (keys.bindMemory(to: Float.self, capacity: fitting * rowFloats),
                values.bindMemory(to: Float.self, capacity: fitting * rowFloats), fitting)
    }
}
