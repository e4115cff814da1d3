import GPT2Kernels

/// `attn` of block `layer` up to its `c_proj`: causal multi-head self-attention of the new rows of
/// every sequence in `batch`, each attending to the positions its cache holds and to itself.
///
/// - h:   [N, n_embd]  the output of `ln_1`, N the new rows of all sequences together, in `groups`
/// - q:   [N, n_embd]  scratch for the queries
/// - out: [N, n_embd]  the heads' outputs side by side (the input of `attn.c_proj`)
///
/// `c_attn` writes each row's query into `q` and its key and value straight into its sequence's
/// cache, at the positions after `cache.count`; the caller advances `cache.count` once every
/// block has run.
func attention(_ h: UnsafePointer<Float>, rows groups: RowGroups, c_attn: Linear, batch: [(tokens: [Int], cache: KVCache)],
               layer: Int, headCount: Int, scale: Float,
               q: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let C = c_attn.inputSize

    // q | k | v = c_attn(h): [N, 3·n_embd], split three ways as it is written
    var keys: [UnsafeMutablePointer<Float>] = [], values: [UnsafeMutablePointer<Float>] = []
    for (tokens, cache) in batch {
        for t in 0..<tokens.count {
            keys.append(cache.keys(layer: layer) + (cache.count + t) * C)
            values.append(cache.values(layer: layer) + (cache.count + t) * C)
        }
    }
    c_attn(h, rows: groups, into: q, keys: keys, values: values)

    // out = softmax(q · Kᵀ · scale) · V per head and sequence, by the kernel fastest for the shape
    KernelProfile.measure("attention") {
        let starts = batch.reduce(into: [0]) { $0.append($0.last! + $1.tokens.count) }
        func arguments(_ s: Int) -> AttentionArguments {
            let (tokens, cache) = batch[s]
            let shape = AttentionShape(queryCount: tokens.count, keyCount: cache.count + tokens.count,
                                       headCount: headCount, headSize: C / headCount)
            return AttentionArguments(shape: shape, queries: q + starts[s] * C, queryStride: C,
                                      keys: cache.keys(layer: layer), values: cache.values(layer: layer), keyValueStride: C,
                                      output: out + starts[s] * C, outputStride: C, scale: scale)
        }
        // a sequence's prompt: its kernel, on every thread
        for s in batch.indices where batch[s].tokens.count > 1 {
            let a = arguments(s)
            AttentionKernels.engineChoice(for: a.shape).run(a)
        }
        // the sequences decoding one token each: one sequence per thread, on its own (the same
        // chunks of keys as alone, merged alike, so the same result)
        let decoding = batch.indices.filter { batch[$0].tokens.count == 1 }
        if decoding.count == 1 {
            let a = arguments(decoding[0])
            AttentionKernels.engineChoice(for: a.shape).run(a)
        } else {
            parallelRanges(decoding.count, minimumPerPart: 1) { part in
                for i in part { AttentionKernels.decodeChoice(serial: true).run(arguments(decoding[i])) }
            }
        }
    }
}
