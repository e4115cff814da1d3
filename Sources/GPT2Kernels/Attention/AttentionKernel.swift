/// The size of one causal multi-head attention problem.
package struct AttentionShape: Sendable, Hashable, CustomStringConvertible {
    /// New positions (rows of queries): the prompt length in prefill, 1 in decode.
    package var queryCount: Int
    /// Positions attended to: the cached ones plus the new ones (`queryCount ≤ keyCount`).
    package var keyCount: Int
    /// Attention heads.
    package var headCount: Int
    /// Size of each head.
    package var headSize: Int

    package init(queryCount: Int, keyCount: Int, headCount: Int, headSize: Int) {
        precondition(queryCount >= 1 && keyCount >= queryCount && headCount >= 1 && headSize >= 1)
        self.queryCount = queryCount
        self.keyCount = keyCount
        self.headCount = headCount
        self.headSize = headSize
    }

    /// Positions already cached before the new ones.
    package var pastCount: Int { keyCount - queryCount }

    /// Floating-point operations of the causal computation (QKᵀ and PV, 2 each per multiply-add),
    /// counting only the scores a query may see: the masked half of a prefill is not counted.
    package var flops: Double {
        // query t sees pastCount + t + 1 keys
        let visible = Double(queryCount) * Double(pastCount) + Double(queryCount) * Double(queryCount + 1) / 2
        return 4 * Double(headCount) * Double(headSize) * visible
    }

    package var description: String { "T=\(queryCount) keys=\(keyCount) heads=\(headCount)×\(headSize)" }
}

/// Pointers to the operands of one attention problem, all row-major with the heads side by side:
/// head `h` of row `t` of `queries` starts at `queries + t * queryStride + h * headSize`.
package struct AttentionArguments: @unchecked Sendable {  // plain pointers; the caller owns the memory
    package var shape: AttentionShape
    /// [queryCount, headCount·headSize] with row stride `queryStride`.
    package var queries: UnsafePointer<Float>
    package var queryStride: Int
    /// [keyCount, headCount·headSize] each, with row stride `keyValueStride`.
    package var keys: UnsafePointer<Float>
    package var values: UnsafePointer<Float>
    package var keyValueStride: Int
    /// [queryCount, headCount·headSize] with row stride `outputStride`.
    package var output: UnsafeMutablePointer<Float>
    package var outputStride: Int
    /// Multiplies every score before the softmax (1/√headSize in GPT-2).
    package var scale: Float

    package init(shape: AttentionShape, queries: UnsafePointer<Float>, queryStride: Int,
                keys: UnsafePointer<Float>, values: UnsafePointer<Float>, keyValueStride: Int,
                output: UnsafeMutablePointer<Float>, outputStride: Int, scale: Float) {
        self.shape = shape
        self.queries = queries
        self.queryStride = queryStride
        self.keys = keys
        self.values = values
        self.keyValueStride = keyValueStride
        self.output = output
        self.outputStride = outputStride
        self.scale = scale
    }
}

/// An implementation of causal multi-head scaled-dot-product attention:
/// `output[t] = softmax(scale · q[t] · K[0..<pastCount+t+1]ᵀ) · V[0..<pastCount+t+1]`, per head.
///
/// The engine picks one per shape (``AttentionKernels/engineChoice(for:)``); the benchmark tool's
/// attention lab checks each against ``NaiveAttention`` and times them over a sweep of shapes.
package protocol AttentionKernel: Sendable {
    /// A short name for tables and plots.
    var name: String { get }
    /// Computes the attention described by `arguments`, writing `arguments.output`.
    func run(_ arguments: AttentionArguments)
}

/// The kernel the engine picks for each shape.
package enum AttentionKernels {
    /// The kernel the forward pass uses for `shape`: the fastest in the attention lab's sweep on
    /// the development machine (see Benchmarks/README.md). Prefill: the register-tiled Swift kernel
    /// when the head size is a multiple of 8 (its columns in vectors of 16 and 8), sgemm otherwise
    /// (head sizes 4, 12, 20, 36 and 100 in the lab: the tiles' scalar tail columns are slower);
    /// in a build without fused multiply-adds (SSE2 tiles against OpenBLAS's own AVX kernels)
    /// the tiles only up to 128 new rows, sgemm beyond. Decode:
    /// flash-decoding, which reads the cache front to back on every thread. In a decode step the
    /// weights streamed since a layer's last attention have pushed its keys and values out of the
    /// caches (the lab times decode that way); flash-decoding is the fastest at every length from
    /// there, and from a warm cache too.
    package static func engineChoice(for shape: AttentionShape) -> any AttentionKernel {
        if shape.queryCount > 1 {
            let tiled = shape.headSize % 8 == 0 && (KernelBuild.fusedMultiplyAdd || shape.queryCount <= 128)
            return tiled ? TiledAttention() : BLASAttention()
        }
        return decodeChoice()
    }

    /// The engine's decode kernel (one new row); `serial`: all on the calling thread, for a batched
    /// step that gives each sequence a thread of its own (the same chunks of keys, merged alike,
    /// so the same result as alone).
    package static func decodeChoice(serial: Bool = false) -> FlashDecodeAttention { FlashDecodeAttention(serial: serial) }
}
