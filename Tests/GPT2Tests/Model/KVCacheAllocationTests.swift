import Testing
@testable import GPT2

/// A KV cache's size comes from the request (its prompt and max tokens) and the config: one too
/// large for the machine is an error, never a crash.
@Suite struct KVCacheAllocationTests {
    @Test("a cache whose size overflows, or that no machine has memory for, throws cacheTooLarge",
          arguments: [(1 << 20, 1 << 20, 1 << 30), (1024, 65_536, 1 << 20), (Int.max / 2, 2, 2)])
    func tooLarge(layers: Int, width: Int, capacity: Int) {
        #expect {
            _ = try KVCache(layerCount: layers, width: width, capacity: capacity)
        } throws: { error in
            guard case GenerationError.cacheTooLarge(_, let positions) = error else { return false }
            return positions == capacity && "\(error)".contains("cannot be allocated")
        }
    }

    @Test("an ordinary cache is allocated and empty")
    func ordinary() throws {
        let cache = try KVCache(layerCount: 2, width: 8, capacity: 16)
        #expect(cache.capacity == 16 && cache.count == 0)
    }
}
