import Foundation
import Testing
import TestSupport
@testable import GPT2

/// A KV cache starts small and grows as the forward pass adds positions: the logits are the very
/// bits a cache with memory for every position from the start gives, however often it grew.
@Suite struct KVCacheGrowthTests {
    static func tokens(_ count: Int, seed: UInt64, vocabularySize: Int) -> [Int] {
        var rng = TestRandom(seed: seed)
        return (0..<count).map { _ in Int.random(in: 0..<min(vocabularySize, 50000), using: &rng) }
    }

    /// A cache for `model`'s whole context whose memory starts at `initialPositions`.
    static func cache(_ model: GPT2Model, initialPositions: Int) throws -> KVCache {
        try KVCache(layerCount: model.config.layerCount, width: model.config.embeddingSize,
                    capacity: model.config.contextLength, initialPositions: initialPositions)
    }

    static func bitsDiffering(_ a: Logits, _ b: Logits) -> Int {
        a.values.count == b.values.count ? zip(a.values, b.values).count { $0.bitPattern != $1.bitPattern } : -1
    }

    @Test("a cache that grew from 1 position gives the logits of one that held the whole context from the start",
          arguments: ["tiny-gpt2-f32", "small-gpt2-f16"], WeightResidency.allCases)
    func grownEqualsFullSize(name: String, residency: WeightResidency) throws {
        let model = try GPT2Model(directory: TestPaths.reference.appendingPathComponent(name), residency: residency)
        let T = model.config.contextLength
        let grown = try Self.cache(model, initialPositions: 1)
        let full = try Self.cache(model, initialPositions: T)
        #expect(grown.allocatedPositions == 1 && full.allocatedPositions == T)
        // a prompt in uneven chunks, then one token at a time to the end of the context
        let ids = Self.tokens(T, seed: 7, vocabularySize: model.config.vocabularySize)
        var sizes: [Int] = [], position = 0
        for chunk in [3, 1, 6, 13] + Array(repeating: 1, count: T - 23) {
            let step = Array(ids[position..<(position + chunk)])
            let a = try model.forward(step, cache: grown, logits: .all)
            let b = try model.forward(step, cache: full, logits: .all)
            #expect(Self.bitsDiffering(a, b) == 0, "\(name) at position \(position)")
            position += chunk
            if sizes.last != grown.allocatedPositions { sizes.append(grown.allocatedPositions) }
        }
        #expect(grown.count == T && full.count == T)
        #expect(sizes.count >= 5, "grew \(sizes.count - 1) times: \(sizes)")
        #expect(sizes.last == T && full.allocatedPositions == T)
        // at least doubling, so that the rows moved stay proportional to the rows held
        for (before, after) in zip(sizes, sizes.dropFirst()) { #expect(after >= min(2 * before, T), "\(sizes)") }
    }

    @Test("growing in the middle of a batch keeps every sequence's logits; truncating and reusing a grown cache too")
    func growingInABatch() throws {
        let model = try GPT2Model(directory: TestPaths.reference.appendingPathComponent("small-gpt2-f16"))
        let V = model.config.vocabularySize
        let prefixes = [40, 9, 1].enumerated().map { Self.tokens($1, seed: UInt64($0), vocabularySize: V) }
        let caches = try prefixes.map { _ in try Self.cache(model, initialPositions: 2) }
        let references = try prefixes.map { _ in try Self.cache(model, initialPositions: model.config.contextLength) }
        for (prefix, (cache, reference)) in zip(prefixes, zip(caches, references)) {
            _ = try model.forward(prefix, cache: cache, logits: .none)
            _ = try model.forward(prefix, cache: reference, logits: .none)
        }
        for step in 0..<30 {
            let next = prefixes.indices.map { Self.tokens(1, seed: UInt64(100 * step + $0), vocabularySize: V) }
            let grown = try model.forward(batch: Array(zip(next, caches)), logits: .last)
            let alone = try zip(next, references).map { try model.forward($0, cache: $1) }
            for (i, (a, b)) in zip(grown, alone).enumerated() {
                #expect(Self.bitsDiffering(a, b) == 0, "sequence \(i), step \(step)")
            }
        }
        // a grown cache taken back to a shorter prefix computes as the full-size one does; reset, as a fresh one
        let (cache, reference) = (caches[0], references[0])
        cache.truncate(to: 20)
        reference.truncate(to: 20)
        let tail = Self.tokens(5, seed: 99, vocabularySize: V)
        #expect(Self.bitsDiffering(try model.forward(tail, cache: cache, logits: .all),
                                   try model.forward(tail, cache: reference, logits: .all)) == 0)
        cache.reset()
        let restart = try model.forward(tail, cache: cache, logits: .all)
        #expect(Self.bitsDiffering(restart, try model.forward(tail, cache: try model.makeCache(), logits: .all)) == 0)
    }

    @Test("makeCache with any capacity succeeds with memory for a few positions; capacity still bounds the sequence",
          arguments: [nil, 100, Int.max])
    func hugeCapacityIsCheap(capacity: Int?) throws {
        let model = try GPT2Model(directory: TestPaths.salesDemo)
        let cache = try model.makeCache(capacity: capacity)
        let limit = min(capacity ?? .max, model.config.contextLength)
        #expect(cache.capacity == limit)
        let rowBytes = 2 * model.config.layerCount * model.config.embeddingSize * MemoryLayout<Float>.size
        #expect(cache.allocatedPositions >= 1 && cache.allocatedPositions * rowBytes <= 2 * KVCache.initialBytes,
                "\(cache.allocatedPositions) positions allocated")
        #expect(cache.allocatedPositions < limit)
        // filling it grows it to the capacity and no further
        _ = try model.forward(Array(repeating: 13, count: limit), cache: cache, logits: .none)
        #expect(cache.allocatedPositions == limit && cache.count == limit)
        #expect(throws: GPT2Error.self) { try model.forward([13], cache: cache) }
        #expect(cache.count == limit)
    }

    @Test("a cache of a billion positions, or more than any address space, costs one position until it grows")
    func enormousCapacity() throws {
        for capacity in [1 << 30, Int.max] {
            let cache = try KVCache(layerCount: 12, width: 768, capacity: capacity)
            #expect(cache.capacity == capacity && cache.allocatedPositions >= 1)
            #expect(cache.allocatedPositions * 12 * 768 * 4 <= KVCache.initialBytes || cache.allocatedPositions == 1)
            try cache.reserve(1000)
            #expect(cache.allocatedPositions >= 1000 && cache.allocatedPositions < 4000)
        }
    }

    @Test("a growth that cannot get its memory throws cacheTooLarge and leaves the cache as it was",
          arguments: [(1, 1 << 20, 1 << 30), (1, 1 << 20, 1 << 40), (4, 1 << 16, Int.max / 2)])
    func growthFailure(layers: Int, width: Int, capacity: Int) throws {
        let cache = try KVCache(layerCount: layers, width: width, capacity: capacity, initialPositions: 2)
        // mark the cached rows, to see that a failed growth keeps them
        cache.count = 2
        for layer in 0..<layers {
            for i in 0..<(2 * width) { cache.keys(layer: layer)[i] = Float(layer * 7 + i % 13) }
        }
        #expect {
            try cache.reserve(capacity)
        } throws: { error in
            guard case GenerationError.cacheTooLarge(let bytes, let positions) = error else { return false }
            return positions >= capacity / 2 && bytes > 1 << 40 && "\(error)".contains("cannot be allocated")
        }
        #expect(cache.count == 2 && cache.allocatedPositions == 2)
        // what does fit still grows, and keeps the rows
        try cache.reserve(5)
        #expect(cache.allocatedPositions >= 5)
        for layer in 0..<layers {
            let keys = cache.keys(layer: layer)
            #expect((0..<(2 * width)).allSatisfy { keys[$0] == Float(layer * 7 + $0 % 13) }, "layer \(layer)")
        }
    }
}
