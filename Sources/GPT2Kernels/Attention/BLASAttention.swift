/// Attention as matrix products: per head, scores = Q·Kᵀ and output = softmax(scores)·V through
/// sgemm (sgemv for a single query). Prefill processes queries in blocks of `blockRows`, each
/// against only the keys its last row can see, so about half of the masked triangle is skipped.
package struct BLASAttention: AttentionKernel {
    package let name = "blas"
    /// Query rows per block in prefill.
    package var blockRows = 64

    package init() {}

    package func run(_ a: AttentionArguments) {
        let (T, P, D) = (a.shape.queryCount, a.shape.pastCount, a.shape.headSize)
        let rowsPerBlock = min(blockRows, T)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * a.shape.keyCount)
        defer { scores.deallocate() }

        for h in 0..<a.shape.headCount {
            let q = a.queries + h * D   // [T, D], row stride queryStride
            let k = a.keys + h * D      // [keys, D], row stride keyValueStride
            let v = a.values + h * D
            let o = a.output + h * D
            if T == 1 {
                let visible = a.shape.keyCount
                // scores[keys] = K_h · q · scale
                BLAS.gemv(m: visible, n: D, alpha: a.scale, a: k, lda: a.keyValueStride, x: q, y: scores)
                softmax(scores, count: visible)
                // o[D] = V_hᵀ · scores
                BLAS.gemv(trans: true, m: visible, n: D, a: v, lda: a.keyValueStride, x: scores, y: o)
                continue
            }
            for start in stride(from: 0, to: T, by: rowsPerBlock) {
                let rows = min(rowsPerBlock, T - start)
                let seen = P + start + rows  // keys the block's last row sees
                // scores[rows, seen] = Q_block · K_hᵀ · scale
                BLAS.gemm(transB: true, m: rows, n: seen, k: D, alpha: a.scale,
                          a: q + start * a.queryStride, lda: a.queryStride, b: k, ldb: a.keyValueStride,
                          c: scores, ldc: seen)
                // causal mask: row r sees keys 0..<P+start+r+1
                parallelRanges(rows, minimumPerPart: max(1, 16_384 / seen)) { part in
                    for r in part {
                        let row = scores + r * seen
                        let visible = P + start + r + 1
                        softmax(row, count: visible)
                        (row + visible).update(repeating: 0, count: seen - visible)
                    }
                }
                // O_block[rows, D] = scores · V_h
                BLAS.gemm(m: rows, n: D, k: seen, a: scores, lda: seen, b: v, ldb: a.keyValueStride,
                          c: o + start * a.outputStride, ldc: a.outputStride)
            }
        }
    }
}
