import Testing
@testable import GPT2

/// A KV cache's size comes from the request (its prompt and max tokens) and the config: one too
/// large for the machine is an error, never a crash. Its memory is taken as it grows
/// (`KVCacheGrowthTests`), so only a position that no machine has memory for fails at once.
@Suite struct KVCacheAllocationTests {
    @Test("a cache whose one position overflows, or that no machine has memory for, throws cacheTooLarge",
          arguments: [(1 << 20, 1 << 20, 1 << 30), (1 << 20, 1 << 20, 1), (Int.max / 2, 2, 2), (1 << 40, 1 << 30, 8)])
    func tooLarge(layers: Int, width: Int, capacity: Int) {
        #expect {
            _ = try KVCache(layerCount: layers, width: width, capacity: capacity)
        } throws: { error in
            guard case GenerationError.cacheTooLarge(_, let positions) = error else { return false }
            return positions == 1 && "\(error)".contains("cannot be allocated")
        }
    }

    @Test("an ordinary cache is allocated and empty; a huge capacity is allocated as it is used",
          arguments: [(2, 8, 16), (1024, 65_536, 1 << 20), (12, 768, 1 << 40)])
    func ordinary(layers: Int, width: Int, capacity: Int) throws {
        let cache = try KVCache(layerCount: layers, width: width, capacity: capacity)
        #expect(cache.capacity == capacity && cache.count == 0)
        #expect(cache.allocatedPositions >= 1 && cache.allocatedPositions <= min(capacity, max(1, KVCache.initialBytes / (layers * width * 4))))
    }
}
