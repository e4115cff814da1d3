import GPT2Kernels

/// The kernels the attention lab compares, the reference first: the engine's, and the lab's own.
///
/// To try a kernel of your own, write a type conforming to `AttentionKernel` in a file of this
/// directory (the protocol has `package` access, so the library stays as it is;
/// `FlashAttention.swift` is one) and add it here. The lab checks it against the reference on
/// every shape before timing it, and `gpt2-bench attention --kernels NAME,tiled` races it against
/// the engine's.
let labKernels: [any AttentionKernel] = [NaiveAttention(), BLASAttention(), FlashAttention(), FlashDecodeAttention(), TiledAttention()]
