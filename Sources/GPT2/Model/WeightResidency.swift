import GPT2Kernels

/// Where a loaded model's float32 weights live.
public enum WeightResidency: String, Sendable, CaseIterable {
    /// Used in place from a read-only memory map of the files: loading takes milliseconds and the
    /// pages are shared with the page cache and with other processes mapping the same files.
    /// The default.
    ///
    /// The contract: the files must not change while the model is in use. A file truncated
    /// under the map makes the next read of a lost page raise SIGBUS, which ends the process
    /// unless the application handles it (`generate` prints one line and exits 74); a file
    /// overwritten in place changes the weights silently. Replace a model by writing a new file
    /// and renaming it over the old (the map keeps the old one), or load it
    /// ``WeightResidency/resident``.
    case mapped
    /// Copied into the process's own memory, in 2 MB-aligned buffers that Linux backs with
    /// transparent huge pages. Loading reads the whole file. The blocks' float32 matrices are copied transposed, so that decoding
    /// reads them as the LM head is read, one dot product per output; float16 ones keep the
    /// checkpoint's layout. Decoding, which streams every weight once per token, then runs faster
    /// (fewer TLB misses, no partial sums to add).
    /// For long-running processes. The sums run in another order than with `.mapped`, so logits
    /// can differ from mapped weights' in the last bits (each is the same in every run).
    case resident
}

/// The precision a loaded model keeps its weight matrices in (the blocks' four Conv1D matrices and
/// `wte`/`lm_head`; biases, LayerNorms and position embeddings stay float32). Arithmetic is
/// float32, except that an int8 decode step sums each block's products as exact integers.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// As float32: exact for float32 checkpoints; float16/bfloat16 ones are widened once.
    case float32 = "f32"
    /// As IEEE float16 (half the memory, and half the bytes every decoded token streams).
    /// A float16 checkpoint gives the same results as with `.float32` (the conversion is exact)
    /// and can stay in place in the memory map (where halves are widened in software, a plain
    /// x86-64 build, ``WeightResidency/resident`` decodes such a checkpoint much faster on
    /// Intel CPUs: its copy has no subnormal halves); float32 and bfloat16 weights are rounded to
    /// float16 once, at load, which moves the logits slightly.
    case float16 = "f16"
    /// As int8, with a float32 scale for each run of 64 weights along an output's row (1.0625
    /// bytes a weight: a decoded token streams 3.8 times fewer bytes than with `.float32`). Made at
    /// load from any checkpoint, always a copy; the rounding moves the logits more than float16's.
    case int8

    /// Bytes per matrix element, scales included.
    package var bytesPerWeight: Double {
        switch self {
        case .float32: 4
        case .float16: 2
        case .int8: 1 + 4 / Double(int8BlockSize)
        }
    }
}
