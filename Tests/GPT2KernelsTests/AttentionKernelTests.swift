import Foundation
import Testing
@testable import GPT2Kernels
import TestSupport

/// Every kernel against the naive reference, on shapes that exercise blocks, tiles, a KV cache
/// offset, strided rows and head sizes that are not a multiple of the SIMD width.
@Suite struct AttentionKernelTests {
    struct Problem {
        var shape: AttentionShape
        var queries: [Float], keys: [Float], values: [Float]
        var queryStride: Int, keyValueStride: Int

        init(_ shape: AttentionShape, padding: Int = 3, seed: UInt64) {
            var rng = TestRandom(seed: seed)
            let width = shape.headCount * shape.headSize
            self.shape = shape
            queryStride = 3 * width  // like the engine: q sits inside the c_attn output rows
            keyValueStride = width + padding
            func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2, using: &rng) } }
            queries = random(shape.queryCount * queryStride)
            keys = random(shape.keyCount * keyValueStride)
            values = random(shape.keyCount * keyValueStride)
        }

        func run(_ kernel: any AttentionKernel) -> [Float] {
            let width = shape.headCount * shape.headSize
            var out = [Float](repeating: .nan, count: shape.queryCount * width)
            queries.withUnsafeBufferPointer { q in
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        out.withUnsafeMutableBufferPointer { o in
                            kernel.run(AttentionArguments(shape: shape, queries: q.baseAddress!, queryStride: queryStride,
                                                          keys: k.baseAddress!, values: v.baseAddress!, keyValueStride: keyValueStride,
                                                          output: o.baseAddress!, outputStride: width,
                                                          scale: 1 / Float(shape.headSize).squareRoot()))
                        }
                    }
                }
            }
            return out
        }
    }

    static let shapes = [
        AttentionShape(queryCount: 1, keyCount: 1, headCount: 1, headSize: 8),
        AttentionShape(queryCount: 1, keyCount: 300, headCount: 12, headSize: 64),     // decode
        AttentionShape(queryCount: 1, keyCount: 33, headCount: 4, headSize: 24),      // decode in chunks of 17 and 16 keys
        AttentionShape(queryCount: 5, keyCount: 5, headCount: 4, headSize: 16),       // tiny prefill
        AttentionShape(queryCount: 150, keyCount: 150, headCount: 3, headSize: 64),   // blocks and tiles, ragged
        AttentionShape(queryCount: 70, keyCount: 200, headCount: 2, headSize: 12),    // chunk after a cache, odd head size
        AttentionShape(queryCount: 33, keyCount: 33, headCount: 6, headSize: 32),
        AttentionShape(queryCount: 9, keyCount: 41, headCount: 2, headSize: 56),     // 16-column slices and a tail of 8
    ]

    /// The kernels the engine can pick (the lab's own are checked by the lab against the same reference).
    static let kernels: [any AttentionKernel] = [BLASAttention(), FlashDecodeAttention(), TiledAttention()]

    @Test("each kernel matches the naive reference", arguments: kernels.map(\.name))
    func matchesReference(kernel name: String) {
        let kernel = Self.kernels.first { $0.name == name }!
        for (i, shape) in Self.shapes.enumerated() {
            let problem = Problem(shape, seed: UInt64(i))
            let expected = problem.run(NaiveAttention())
            let actual = problem.run(kernel)
            let worst = zip(expected, actual).map { abs($0 - $1) }.max()!
            #expect(worst <= 2e-5, "\(name) on \(shape): max difference \(worst)")
        }
    }

    @Test("the engine's choice: tiled prefill for head sizes in multiples of 8 (up to 128 rows without FMA), BLAS otherwise; flash-decoding for decode")
    func engineChoice() {
        func choice(_ T: Int, _ keys: Int, _ D: Int) -> String {
            AttentionKernels.engineChoice(for: AttentionShape(queryCount: T, keyCount: keys, headCount: 12, headSize: D)).name
        }
        let long = KernelBuild.fusedMultiplyAdd ? "tiled" : "blas"  // the SSE2 tiles lose to sgemm there
        #expect(choice(512, 512, 64) == long)
        #expect(choice(7, 30, 64) == "tiled")
        #expect(choice(128, 640, 64) == "tiled")
        #expect(choice(129, 129, 64) == long)
        #expect(choice(512, 512, 24) == long)
        #expect(choice(64, 576, 8) == "tiled")
        #expect(choice(512, 512, 12) == "blas")
        #expect(choice(512, 512, 100) == "blas")
        #expect(choice(1, 1, 64) == "flash-decode")
        #expect(choice(1, 1024, 64) == "flash-decode")
    }

    @Test func naiveReferenceOnAHandComputedCase() {
        // one head of size 1, scale 1: the second query (2) sees keys 0 and 1, scores [0, 2]
        let shape = AttentionShape(queryCount: 2, keyCount: 2, headCount: 1, headSize: 1)
        let q: [Float] = [1, 2], k: [Float] = [0, 1], v: [Float] = [10, 20]
        var out: [Float] = [0, 0]
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in
                NaiveAttention().run(AttentionArguments(shape: shape, queries: qp.baseAddress!, queryStride: 1, keys: kp.baseAddress!,
                                                        values: vp.baseAddress!, keyValueStride: 1, output: op.baseAddress!, outputStride: 1, scale: 1))
            }
        } } }
        #expect(out[0] == 10)  // the first query sees only the first key
        let w = Float(1 / (1 + exp(2.0)))  // softmax([0, 2]) = [w, 1 - w]
        #expect(abs(out[1] - (10 * w + 20 * (1 - w))) < 1e-5)
    }

    @Test func causalFlopCount() {
        // T new positions after P cached: Σ_t (P + t + 1) visible keys, 4·H·D FLOPs each
        let shape = AttentionShape(queryCount: 3, keyCount: 10, headCount: 2, headSize: 4)
        #expect(shape.flops == 4 * 2 * 4 * Double(8 + 9 + 10))
    }
}
