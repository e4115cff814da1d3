extension Linear {
    /// `c_attn` for a decode step, one new token per sequence: `qkv[M, 3·n_embd]` as
    /// ``apply(_:rows:into:accumulate:then:)`` gives it, except that each sequence's key and value go
    /// straight into its cache, at position `cache.count` of block `layer`, instead of into `qkv`.
    /// Copied there afterwards, on one thread, the two rows cost about a fifth of decode attention
    /// (their cache lines are cold); written by the row dots, they load while the weights stream.
    ///
    /// Returns false, having written nothing, where `x` is not one row per cache (not a decode
    /// step) or the weights go through another kernel (only the row dots on float32 transposed
    /// weights write this way).
    func applyWritingKeysAndValues(_ x: UnsafePointer<Float>, rows M: Int, into qkv: UnsafeMutablePointer<Float>,
                                   caches: [KVCache], layer: Int) -> Bool {
        guard case .float32(let w) = weight, transposed, M == caches.count, rowDotsTake(rows: M) else { return false }
        let C = inputSize
        return withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: 2 * M) { rows in
            for (m, cache) in caches.enumerated() {
                rows[m] = cache.keys(layer: layer) + cache.count * C
                rows[M + m] = cache.values(layer: layer) + cache.count * C
            }
            let destination = QKVRows(qkv: qkv, keys: rows.baseAddress!, values: rows.baseAddress! + M, width: C)
            smallBatchRowDots(x, rows: M, UnsafeRawPointer(w), Float32Format.self, wRows: outputSize, n: C,
                              into: destination, bias: bias)
            return true
        }
    }
}

/// Where `c_attn`'s row dots put a decode step's outputs: queries in `qkv` ([M, 3·n_embd], as
/// usual), keys and values in each sequence's new cache rows.
private struct QKVRows: RowDotDestination {
    let qkv: UnsafeMutablePointer<Float>
    let keys: UnsafePointer<UnsafeMutablePointer<Float>>    // [M]
    let values: UnsafePointer<UnsafeMutablePointer<Float>>  // [M]
    let width: Int

    @inline(__always) func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float> {
        if r < width { return qkv + (m &* 3 &* width &+ r) }
        if r < 2 &* width { return keys[m] + (r &- width) }
        return values[m] + (r &- 2 &* width)
    }

    func activate(_ m: Int, _ range: Range<Int>, _ activation: Activation) {
        preconditionFailure("c_attn has no activation")
    }
}
