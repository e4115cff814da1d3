/// Register-tiled attention in Swift, for prefill. Each thread takes whole heads (so no thread
/// waits for another inside a head, as it does between the many small sgemm calls of `blas`).
/// Per head, Kᵀ is laid out once in tiles of 16 keys ([tile][head dim][16], zero-padded), so the
/// scores loop reads each tile front to back from L1; then for each block of 4 queries:
///
/// 1. scores [4, keys]: a 4 × 16 tile is eight SIMD8 accumulators, fed per step of the head
///    dimension by two loads of Kᵀ and one broadcast per query;
/// 2. each row's softmax over exactly the keys it may see (two passes, as in `blas`), masked
///    scores set to 0;
/// 3. output [4, head size] = P · V in slices of 16 columns, again eight accumulators, fed by two
///    loads of a value row and one broadcast of each query's probability.
///
/// The multiply-adds are fused in builds with `-DGPT2_FMA` (``multiplyAdd(_:_:_:)``): the kernel is
/// bound by arithmetic, so one instruction per multiply-add instead of two makes it much faster.
package struct TiledAttention: AttentionKernel {
    package let name = "tiled"
    /// Below this many FLOPs the problem runs on the calling thread (a thread hop costs more).
    package var parallelThreshold: Double = 2e6

    package init() {}

    package func run(_ a: AttentionArguments) {
        let (H, D) = (a.shape.headCount, a.shape.headSize)
        let paddedKeys = (a.shape.keyCount + 15) / 16 * 16
        let scratchCount = 2 * D * paddedKeys + 4 * paddedKeys + 4 * D
        let headsPerPart = a.shape.flops < parallelThreshold ? H : 1
        parallelRanges(H, minimumPerPart: headsPerPart) { heads in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            for h in heads { runHead(a, head: h, scratch: scratch, paddedKeys: paddedKeys) }
        }
    }

    private func runHead(_ a: AttentionArguments, head h: Int, scratch: UnsafeMutablePointer<Float>, paddedKeys: Int) {
        let (T, P, D, keyCount) = (a.shape.queryCount, a.shape.pastCount, a.shape.headSize, a.shape.keyCount)
        let kt = scratch                      // [paddedKeys / 16, D, 16]  Kᵀ of this head, in tiles
        let vp = kt + D * paddedKeys          // [D / 16, keys, 16]  V of this head, in column slices
        let scores = vp + D * paddedKeys      // [4, paddedKeys]
        let qBlock = scores + 4 * paddedKeys  // [4, D]  the block's queries, times the scale

        (kt + (keyCount / 16) * 16 * D).update(repeating: 0, count: (paddedKeys - keyCount / 16 * 16) * D)
        for j in 0..<keyCount {
            let k = a.keys + j * a.keyValueStride + h * D
            let column = kt + (j / 16) * 16 * D + j % 16
            for d in 0..<D { column[d &* 16] = k[d] }
            let v = a.values + j * a.keyValueStride + h * D
            for slice in 0..<(D / 16) {
                (vp + (slice * keyCount + j) * 16).update(from: v + slice * 16, count: 16)
            }
        }

        for first in stride(from: 0, to: T, by: 4) {
            let rows = min(4, T - first)
            let seen = P + first + rows  // keys the block's last row sees
            for r in 0..<4 {             // a short last block repeats its last query; its rows are dropped
                let q = a.queries + (first + min(r, rows - 1)) * a.queryStride + h * D
                for d in 0..<D { qBlock[r * D + d] = q[d] * a.scale }
            }
            blockScores(qBlock, kt, D: D, paddedKeys: paddedKeys, keys: seen, into: scores)
            for r in 0..<4 {
                let row = scores + r * paddedKeys
                guard r < rows else { row.update(repeating: 0, count: seen); continue }
                let visible = P + first + r + 1
                softmax(row, count: visible)
                (row + visible).update(repeating: 0, count: seen - visible)
            }
            blockOutput(scores, paddedKeys: paddedKeys, keys: seen, packedValues: vp, keyCount: keyCount,
                        values: a.values + h * D, valueStride: a.keyValueStride, D: D, rows: rows,
                        into: a.output + first * a.outputStride + h * D, outputStride: a.outputStride)
        }
    }
}

/// scores[r, j] = q[r] · Kᵀ[:, j] for 4 query rows and keys 0..<`keys` rounded up to 16, with Kᵀ
/// in tiles of 16 keys.
@inline(__always)
private func blockScores(_ q: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, D: Int, paddedKeys: Int, keys: Int,
                         into scores: UnsafeMutablePointer<Float>) {
    let rowBytes = paddedKeys * 4
    let out = UnsafeMutableRawPointer(scores)
    for j in stride(from: 0, to: keys, by: 16) {
        var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s10 = SIMD8<Float>(), s11 = SIMD8<Float>()
        var s20 = SIMD8<Float>(), s21 = SIMD8<Float>(), s30 = SIMD8<Float>(), s31 = SIMD8<Float>()
        var tile = UnsafeRawPointer(kt + j * D)  // tile j / 16 starts at (j / 16) · 16 · D
        let (qr0, qr1, qr2, qr3) = (q, q + D, q + 2 * D, q + 3 * D)
        for d in 0..<D {
            let k0 = tile.loadUnaligned(as: SIMD8<Float>.self)
            let k1 = tile.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let q0 = SIMD8<Float>(repeating: qr0[d]), q1 = SIMD8<Float>(repeating: qr1[d])
            let q2 = SIMD8<Float>(repeating: qr2[d]), q3 = SIMD8<Float>(repeating: qr3[d])
            s00 = multiplyAdd(s00, q0, k0); s01 = multiplyAdd(s01, q0, k1)
            s10 = multiplyAdd(s10, q1, k0); s11 = multiplyAdd(s11, q1, k1)
            s20 = multiplyAdd(s20, q2, k0); s21 = multiplyAdd(s21, q2, k1)
            s30 = multiplyAdd(s30, q3, k0); s31 = multiplyAdd(s31, q3, k1)
            tile += 64
        }
        let o = j * 4
        out.storeBytes(of: s00, toByteOffset: o, as: SIMD8<Float>.self)
        out.storeBytes(of: s01, toByteOffset: o + 32, as: SIMD8<Float>.self)
        out.storeBytes(of: s10, toByteOffset: o + rowBytes, as: SIMD8<Float>.self)
        out.storeBytes(of: s11, toByteOffset: o + rowBytes + 32, as: SIMD8<Float>.self)
        out.storeBytes(of: s20, toByteOffset: o + 2 * rowBytes, as: SIMD8<Float>.self)
        out.storeBytes(of: s21, toByteOffset: o + 2 * rowBytes + 32, as: SIMD8<Float>.self)
        out.storeBytes(of: s30, toByteOffset: o + 3 * rowBytes, as: SIMD8<Float>.self)
        out.storeBytes(of: s31, toByteOffset: o + 3 * rowBytes + 32, as: SIMD8<Float>.self)
    }
}

/// out[r, :] = Σ_j p[r, j] · v[j, :] for the first `rows` of 4 probability rows, over `keys` keys;
/// whole slices of 16 columns come from `packedValues` ([D / 16, keyCount, 16]), the rest from `values`.
@inline(__always)
private func blockOutput(_ p: UnsafePointer<Float>, paddedKeys: Int, keys: Int, packedValues: UnsafePointer<Float>,
                         keyCount: Int, values: UnsafePointer<Float>,
                         valueStride: Int, D: Int, rows: Int, into out: UnsafeMutablePointer<Float>, outputStride: Int) {
    let (p0, p1, p2, p3) = (p, p + paddedKeys, p + 2 * paddedKeys, p + 3 * paddedKeys)
    func store(_ v: SIMD8<Float>, row: Int, column: Int) {
        guard row < rows else { return }
        UnsafeMutableRawPointer(out + row * outputStride + column).storeBytes(of: v, as: SIMD8<Float>.self)
    }
    var c = 0
    while c + 16 <= D {  // 16 columns: eight accumulators
        var o00 = SIMD8<Float>(), o01 = SIMD8<Float>(), o10 = SIMD8<Float>(), o11 = SIMD8<Float>()
        var o20 = SIMD8<Float>(), o21 = SIMD8<Float>(), o30 = SIMD8<Float>(), o31 = SIMD8<Float>()
        var v = UnsafeRawPointer(packedValues + c * keyCount)  // slice c / 16
        for j in 0..<keys {
            let v0 = v.loadUnaligned(as: SIMD8<Float>.self)
            let v1 = v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let a0 = SIMD8<Float>(repeating: p0[j]), a1 = SIMD8<Float>(repeating: p1[j])
            let a2 = SIMD8<Float>(repeating: p2[j]), a3 = SIMD8<Float>(repeating: p3[j])
            o00 = multiplyAdd(o00, a0, v0); o01 = multiplyAdd(o01, a0, v1)
            o10 = multiplyAdd(o10, a1, v0); o11 = multiplyAdd(o11, a1, v1)
            o20 = multiplyAdd(o20, a2, v0); o21 = multiplyAdd(o21, a2, v1)
            o30 = multiplyAdd(o30, a3, v0); o31 = multiplyAdd(o31, a3, v1)
            v += 64
        }
        store(o00, row: 0, column: c); store(o01, row: 0, column: c + 8)
        store(o10, row: 1, column: c); store(o11, row: 1, column: c + 8)
        store(o20, row: 2, column: c); store(o21, row: 2, column: c + 8)
        store(o30, row: 3, column: c); store(o31, row: 3, column: c + 8)
        c += 16
    }
    while c + 8 <= D {  // 8 columns
        var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
        for j in 0..<keys {
            let v0 = UnsafeRawPointer(values + j * valueStride + c).loadUnaligned(as: SIMD8<Float>.self)
            o0 = multiplyAdd(o0, SIMD8<Float>(repeating: p0[j]), v0)
            o1 = multiplyAdd(o1, SIMD8<Float>(repeating: p1[j]), v0)
            o2 = multiplyAdd(o2, SIMD8<Float>(repeating: p2[j]), v0)
            o3 = multiplyAdd(o3, SIMD8<Float>(repeating: p3[j]), v0)
        }
        store(o0, row: 0, column: c); store(o1, row: 1, column: c)
        store(o2, row: 2, column: c); store(o3, row: 3, column: c)
        c += 8
    }
    for column in c..<D {  // the rest, one column at a time
        for r in 0..<rows {
            var sum: Float = 0
            for j in 0..<keys { sum += p[r * paddedKeys + j] * values[j * valueStride + column] }
            out[r * outputStride + column] = sum
        }
    }
}
