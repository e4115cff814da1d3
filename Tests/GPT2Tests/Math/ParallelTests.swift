import Testing
@testable import GPT2

@Suite struct ParallelTests {
    @Test("shrinking chunks cover the range in order, in whole multiples, never below the minimum",
          arguments: [(768, 2, 8), (3072, 2, 24), (130, 2, 16), (50257, 2, 172), (5, 2, 16), (1000, 4, 4)])
    func shrinkingChunkCover(count: Int, parts: Int, minimum: Int) {
        let chunks = shrinkingChunks(count, parts: parts, minimum: minimum)
        #expect(chunks.first?.lowerBound == 0)
        #expect(chunks.last?.upperBound == count)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(a.upperBound == b.lowerBound)
            #expect(a.count >= b.count, "chunks shrink")
            #expect(a.count % 4 == 0 && a.count >= minimum, "every chunk but the last a whole multiple, at least the minimum")
        }
        #expect(chunks[0].count >= count / (2 * parts) || chunks.count == 1, "the first a 1/(2·parts) share")
    }

    @Test("one thread gets the range as one chunk")
    func oneThread() {
        #expect(shrinkingChunks(3072, parts: 1, minimum: 24) == [0..<3072])
    }

    @Test("every chunk runs exactly once")
    func everyChunkOnce() {
        let chunks = shrinkingChunks(10_000, parts: 2, minimum: 8)
        let calls = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks.count)
        defer { calls.deallocate() }
        calls.initialize(repeating: 0)
        nonisolated(unsafe) let counts = calls  // each index written by the one thread that took it
        parallelChunks(chunks) { index, range in
            #expect(range == chunks[index])
            counts[index] += 1
        }
        #expect(calls.allSatisfy { $0 == 1 })
    }
}
