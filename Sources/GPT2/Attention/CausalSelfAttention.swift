/// Causal multi-head self-attention of `T` new positions of one sequence, which attend to the
/// `P` positions already in `cache` and to themselves.
///
/// - qkv: [T, 3·n_embd], the output of `c_attn` (queries | keys | values, heads side by side)
/// - out: [T, n_embd], the heads' outputs side by side (the input of `attn.c_proj`)
///
/// The new keys and values are appended to the cache at positions P..<P+T of block `layer`
/// (unless `c_attn` has written them there already: `keysAndValuesCached`); the caller advances
/// `cache.count` once every block has run.
func causalSelfAttention(qkv: UnsafePointer<Float>, rows T: Int, cache: KVCache, layer: Int,
                         headCount: Int, scale: Float, keysAndValuesCached: Bool = false,
                         out: UnsafeMutablePointer<Float>) {
    let C = cache.width
    let P = cache.count
    let K = cache.keys(layer: layer)    // [capacity, C]
    let V = cache.values(layer: layer)  // [capacity, C]

    // key and value of each new position go into the cache
    for t in 0..<T where !keysAndValuesCached {
        (K + (P + t) * C).update(from: qkv + t * 3 * C + C, count: C)
        (V + (P + t) * C).update(from: qkv + t * 3 * C + 2 * C, count: C)
    }

    // softmax(q · Kᵀ · scale) · V per head, by the kernel that is fastest for this shape
    let shape = AttentionShape(queryCount: T, keyCount: P + T, headCount: headCount, headSize: C / headCount)
    AttentionKernels.engineChoice(for: shape).run(AttentionArguments(
        shape: shape, queries: qkv, queryStride: 3 * C, keys: K, values: V, keyValueStride: C,
        output: out, outputStride: C, scale: scale))
}
