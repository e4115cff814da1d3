import Testing
@testable import GPT2Kernels

@Suite struct ParallelTests {
    @Test("shrinking chunks cover the range in order, in whole multiples, never below the minimum",
          arguments: [(768, 2, 8), (3072, 2, 24), (130, 2, 16), (50257, 2, 172), (5, 2, 16), (1000, 4, 4)])
    func shrinkingChunkCover(count: Int, parts: Int, minimum: Int) {
        let chunks = shrinkingChunks(count, parts: parts, minimum: minimum)
        expectInOrderCover(chunks, count)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(a.count >= b.count, "chunks shrink")
            #expect(a.count % 4 == 0 && a.count >= minimum, "every chunk but the last a whole multiple, at least the minimum")
        }
        #expect(chunks[0].count >= count / (2 * parts) || chunks.count == 1, "the first a 1/(2·parts) share")
    }

    @Test("few-partial chunks: one large chunk per thread for 3/4 of the range, then a shrinking tail, in order",
          arguments: [(768, 2, 7), (3072, 2, 21), (768, 2, 4), (130, 2, 16), (1000, 4, 4), (768, 2, 300), (5, 2, 4)])
    func fewPartialChunkCover(count: Int, parts: Int, minimum: Int) {
        let chunks = fewPartialChunks(count, parts: parts, minimum: minimum)
        expectInOrderCover(chunks, count)
        #expect(chunks.dropLast().allSatisfy { $0.count % 4 == 0 }, "every chunk but the last a whole multiple")
        let large = chunks.prefix(parts).dropLast(chunks.count <= parts ? 1 : 0)
        for chunk in large {
            #expect(chunk.count >= 3 * count / (4 * parts) && chunk.count < 3 * count / (4 * parts) + 4, "a 3/(4·parts) share")
        }
        for (a, b) in zip(chunks.dropFirst(parts), chunks.dropFirst(parts + 1)) {
            #expect(a.count >= b.count, "the tail shrinks")
            #expect(a.count >= minimum && a.count >= count / (16 * parts), "never below the minimum or 1/(16·parts)")
        }
        // the tail is 1/4 of the range in chunks of at least 1/(16·parts) of it
        #expect(chunks.count <= parts + 4 * parts + 1)
    }

    @Test("GPT-2's matrices on two threads: six chunks, the first two 3/8 of the rows each")
    func fewPartialChunksOfGPT2() {
        #expect(fewPartialChunks(768, parts: 2, minimum: 7).map(\.count) == [288, 288, 96, 48, 24, 24])
        #expect(fewPartialChunks(3072, parts: 2, minimum: 5).map(\.count) == [1152, 1152, 384, 192, 96, 96])
        #expect(fewPartialChunks(3072, parts: 1, minimum: 5) == [0..<3072])
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

/// `chunks` are `0..<count` cut into consecutive ranges, in order.
private func expectInOrderCover(_ chunks: [Range<Int>], _ count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(chunks.first?.lowerBound == 0, sourceLocation: sourceLocation)
    #expect(chunks.last?.upperBound == count, sourceLocation: sourceLocation)
    #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, sourceLocation: sourceLocation)
}
