// The decode kernel for input-major weights ([in, out], GPT-2's Conv1D layout as stored): each
// weight row is one input's contribution to every output, scaled and added into the outputs.

/// `y[M, out] += x[M, in] · W` for W stored [in, out]. The threads share out W's rows in chunks
/// (``accumulateChunks(inputs:outputs:elementSize:)``), each streamed front to back. The first
/// chunk adds into `y` directly, every other one into a partial sum of its own, added to `y` in
/// chunk order at the end: the result does not depend on which thread took which chunk (or which
/// columns of the partial sums), so it is the same in every run. `chunks` replaces the default
/// split (the tests give one, so that the partial sums run on a one-core machine too).
package func accumulateRows<F: WeightFormat, D: MatmulDestination>(
    _ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type, inputs: Int, outputs: Int,
    into y: D, chunks: [Range<Int>]? = nil
) {
    let chunks = chunks ?? accumulateChunks(inputs: inputs, outputs: outputs, elementSize: F.size)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: (chunks.count - 1) * M * outputs)
    defer { partials.deallocate() }
    parallelChunks(chunks) { index, rows in
        if index == 0 {
            accumulate(x, M: M, w, F.self, inputs: inputs, outputs: outputs, rows: rows, into: y)
        } else {
            let partial = partials + (index - 1) * M * outputs
            partial.initialize(repeating: 0, count: M * outputs)
            accumulate(x, M: M, w, F.self, inputs: inputs, outputs: outputs, rows: rows,
                       into: DenseRows(partial, width: outputs))
        }
    }
    // in chunk order, each thread for its share of the columns rather than one while the others wait
    if chunks.count > 1 {
        parallelRanges(outputs, minimumPerPart: max(1, 16_384 / (M * (chunks.count - 1)))) { columns in
            y.add(partials, count: chunks.count - 1, rows: M, columns: columns)
        }
    }
}

/// How ``accumulateRows(_:rows:_:_:inputs:outputs:into:chunks:)`` shares out W's rows: one large
/// chunk per thread, then a shrinking tail (``fewPartialChunks(_:parts:minimum:multiple:)``), every
/// chunk at least 64 KB of W so that each is still a long stream, and few partial sums to add.
package func accumulateChunks(inputs: Int, outputs: Int, elementSize: Int) -> [Range<Int>] {
    fewPartialChunks(inputs, parts: min(parallelism, inputs / 64), minimum: max(4, 65_536 / (outputs * elementSize)))
}

/// acc[m, :] += Σ_{i in rows} x[m, i] · W[i, :]. The rows go four at a time, one from each
/// quarter of the range, so the core reads four long front-to-back streams, which its prefetchers
/// follow best (better than four neighbouring rows, which restart every row, or one stream). In
/// column tiles small enough that the tile of four rows stays in L1 while every m uses it, two m
/// at a time, or four where there are four (each weight vector loaded once for all of them);
/// tiles never straddle two parts of the destination. Each m's sums are the same whichever rows
/// share its pass.
@inline(__always)
private func accumulate<F: WeightFormat, D: MatmulDestination>(
    _ x: UnsafePointer<Float>, M: Int, _ w: UnsafeRawPointer, _ format: F.Type, inputs: Int, outputs: Int,
    rows: Range<Int>, into acc: D
) {
    let tile = 512
    let stride = outputs * F.size  // bytes per row of W
    let quarter = rows.count / 4
    let q = quarter * stride       // bytes from one stream to the next
    for i in rows.lowerBound..<(rows.lowerBound + quarter) {  // rows i, i + quarter, i + 2·quarter, i + 3·quarter
        let w0 = w + i * stride, w1 = w0 + q, w2 = w0 + 2 * q, w3 = w0 + 3 * q
        for p in 0..<acc.parts {
            let partStart = p * acc.partWidth, partEnd = partStart + acc.partWidth
            for tileStart in Swift.stride(from: partStart, to: partEnd, by: tile) {
                let tileEnd = min(partEnd, tileStart + tile)
                let vectorEnd = tileStart + (tileEnd - tileStart) / 8 * 8
                var m = 0
                while m < M {
                    let group = min(4, M - m)
                    let x0 = x + m * inputs + i
                    let x1 = group > 1 ? x0 + inputs : x0, x2 = group > 2 ? x0 + 2 * inputs : x0, x3 = group > 3 ? x0 + 3 * inputs : x0
                    let s0 = Scales4(x0, quarter), s1 = Scales4(x1, quarter), s2 = Scales4(x2, quarter), s3 = Scales4(x3, quarter)
                    let o0 = UnsafeMutableRawPointer(acc.row(m, part: p))
                    let o1 = group > 1 ? UnsafeMutableRawPointer(acc.row(m + 1, part: p)) : o0
                    let o2 = group > 2 ? UnsafeMutableRawPointer(acc.row(m + 2, part: p)) : o0
                    let o3 = group > 3 ? UnsafeMutableRawPointer(acc.row(m + 3, part: p)) : o0
                    var c = tileStart
                    // wrapping index arithmetic below (c < outputs cannot overflow): the overflow
                    // checks cost a third of a batched decode, where this loop is compute-bound
                    switch group {
                    case 4:
                        while c < vectorEnd {
                            let offset = c &* F.size, outOffset = (c &- partStart) &* 4
                            // the next tile, in the first pass only: asked again in every pass, it slowed batched steps
                            if m == 0 { prefetch(w0, w1, w2, w3, offset: offset, ahead: tile &* F.size) }
                            let v0 = F.load8(w0, byteOffset: offset), v1 = F.load8(w1, byteOffset: offset)
                            let v2 = F.load8(w2, byteOffset: offset), v3 = F.load8(w3, byteOffset: offset)
                            let a = s0.added(to: o0.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            let b = s1.added(to: o1.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            let d = s2.added(to: o2.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            let e = s3.added(to: o3.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            o0.storeBytes(of: a, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            o1.storeBytes(of: b, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            o2.storeBytes(of: d, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            o3.storeBytes(of: e, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            c &+= 8
                        }
                    case 2, 3:
                        while c < vectorEnd {
                            let offset = c &* F.size, outOffset = (c &- partStart) &* 4
                            if m == 0 { prefetch(w0, w1, w2, w3, offset: offset, ahead: tile &* F.size) }
                            let v0 = F.load8(w0, byteOffset: offset), v1 = F.load8(w1, byteOffset: offset)
                            let v2 = F.load8(w2, byteOffset: offset), v3 = F.load8(w3, byteOffset: offset)
                            let a = s0.added(to: o0.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            let b = s1.added(to: o1.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self), v0, v1, v2, v3)
                            o0.storeBytes(of: a, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            o1.storeBytes(of: b, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            c &+= 8
                        }
                    default:
                        while c < vectorEnd {
                            let offset = c &* F.size, outOffset = (c &- partStart) &* 4
                            if m == 0 { prefetch(w0, w1, w2, w3, offset: offset, ahead: tile &* F.size) }
                            let a = s0.added(to: o0.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self),
                                             F.load8(w0, byteOffset: offset), F.load8(w1, byteOffset: offset),
                                             F.load8(w2, byteOffset: offset), F.load8(w3, byteOffset: offset))
                            o0.storeBytes(of: a, toByteOffset: outOffset, as: SIMD8<Float>.self)
                            c &+= 8
                        }
                    }
                    let done = group == 3 ? 2 : group  // three go as a pair, then one
                    for r in m..<(m + done) {
                        let xm = x + r * inputs + i, out = acc.row(r, part: p)
                        for c in vectorEnd..<tileEnd {
                            out[c - partStart] += xm[0] * F.load(w0, index: c) + xm[quarter] * F.load(w1, index: c)
                                + xm[2 * quarter] * F.load(w2, index: c) + xm[3 * quarter] * F.load(w3, index: c)
                        }
                    }
                    m += done
                }
            }
        }
    }
    for i in (rows.lowerBound + 4 * quarter)..<rows.upperBound {  // the last rows.count % 4
        let row = w + i * stride
        for m in 0..<M {
            for c in 0..<outputs { acc.element(m, c).pointee += x[m * inputs + i] * F.load(row, index: c) }
        }
    }
}

/// One row of x's four inputs for the four rows of W that ``accumulate`` streams at once, each
/// in every lane.
private struct Scales4 {
    let s0: SIMD8<Float>, s1: SIMD8<Float>, s2: SIMD8<Float>, s3: SIMD8<Float>

    @inline(__always) init(_ x: UnsafePointer<Float>, _ quarter: Int) {
        s0 = SIMD8(repeating: x[0]); s1 = SIMD8(repeating: x[quarter])
        s2 = SIMD8(repeating: x[2 * quarter]); s3 = SIMD8(repeating: x[3 * quarter])
    }

    /// `out + s0·v0 + s1·v1 + s2·v2 + s3·v3` in two chains of multiply-adds, so that a pass waits
    /// on two FMA latencies, not four; always in this order, whichever rows run together.
    @inline(__always) func added(to out: SIMD8<Float>, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>,
                                 _ v3: SIMD8<Float>) -> SIMD8<Float> {
        var a = out, b = s0 * v0
        a = multiplyAdd(a, s1, v1)
        b = multiplyAdd(b, s2, v2)
        a = multiplyAdd(a, s3, v3)
        return a + b
    }
}
