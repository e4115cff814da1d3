/// Causal multi-head self-attention of `T` new positions of one sequence, which attend to the
/// `P` positions already in `cache` and to themselves.
///
/// - qkv: [T, 3·n_embd], the output of `c_attn` (queries | keys | values, heads side by side)
/// - out: [T, n_embd], the heads' outputs side by side (the input of `attn.c_proj`)
/// - scores: scratch of at least T·(P+T) floats
///
/// The new keys and values are appended to the cache at positions P..<P+T of block `layer`;
/// the caller advances `cache.count` once every block has run.
func causalSelfAttention(qkv: UnsafePointer<Float>, rows T: Int, cache: KVCache, layer: Int,
                         headCount: Int, scale: Float,
                         scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let C = cache.width
    let D = C / headCount
    let P = cache.count
    let total = P + T
    let K = cache.keys(layer: layer)    // [capacity, C]
    let V = cache.values(layer: layer)  // [capacity, C]

    // key and value of each new position go into the cache
    for t in 0..<T {
        (K + (P + t) * C).update(from: qkv + t * 3 * C + C, count: C)
        (V + (P + t) * C).update(from: qkv + t * 3 * C + 2 * C, count: C)
    }

    for h in 0..<headCount {
        let q = qkv + h * D          // [T, D], row stride 3C
        let kh = UnsafePointer(K + h * D)  // [total, D], row stride C
        let vh = UnsafePointer(V + h * D)  // [total, D], row stride C
        let oh = out + h * D         // [T, D], row stride C
        if T == 1 {
            // scores[total] = K_h · q · scale
            BLAS.gemv(m: total, n: D, alpha: scale, a: kh, lda: C, x: q, y: scores)
            softmax(scores, count: total)
            // o[D] = V_hᵀ · scores
            BLAS.gemv(trans: true, m: total, n: D, a: vh, lda: C, x: scores, y: oh)
        } else {
            // scores[T, total] = q · K_hᵀ · scale
            BLAS.gemm(transB: true, m: T, n: total, k: D, alpha: scale, a: q, lda: 3 * C,
                      b: kh, ldb: C, c: scores, ldc: total)
            // causal mask: new position t sees cached positions 0..<P+t+1 only
            for t in 0..<T {
                let row = scores + t * total
                let visible = P + t + 1
                softmax(row, count: visible)
                (row + visible).update(repeating: 0, count: total - visible)
            }
            // o[T, D] = scores · V_h
            BLAS.gemm(m: T, n: D, k: total, a: scores, lda: total, b: vh, ldb: C, c: oh, ldc: C)
        }
    }
}
