// The decode kernel for input-major weights ([in, out], GPT-2's Conv1D layout as stored): each
// weight row is one input's contribution to every output, scaled and added into the outputs.

/// `y[M, out] += x[M, in] · W` for W stored [in, out]. The threads share out W's rows in chunks
/// (``accumulateChunks(inputs:outputs:elementSize:)``), each streamed front to back. The first
/// chunk adds into `y` directly, every other one into a partial sum of its own, added to `y` in
/// chunk order at the end: the result does not depend on which thread took which chunk, so it is
/// the same in every run. `chunks` replaces the default split (the tests give one, so that the
/// partial sums run on a one-core machine too).
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
    for index in 1..<chunks.count { y.add(partials + (index - 1) * M * outputs, rows: M) }
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
/// column tiles small enough that the tile of four rows stays in L1 while every m uses it; tiles
/// never straddle two parts of the destination.
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
                for m in 0..<M {
                    let xm = x + m * inputs + i
                    let x0 = xm[0], x1 = xm[quarter], x2 = xm[2 * quarter], x3 = xm[3 * quarter]
                    let s0 = SIMD8<Float>(repeating: x0), s1 = SIMD8<Float>(repeating: x1)
                    let s2 = SIMD8<Float>(repeating: x2), s3 = SIMD8<Float>(repeating: x3)
                    let out = acc.row(m, part: p)
                    let rawOut = UnsafeMutableRawPointer(out)
                    var c = tileStart
                    while c < vectorEnd {
                        // wrapping index arithmetic (c < outputs cannot overflow): the overflow
                        // checks cost a third of a batched decode, where this loop is compute-bound
                        let offset = c &* F.size, outOffset = (c &- partStart) &* 4
                        // two chains of multiply-adds, so a pass waits on two FMA latencies, not four
                        var a = rawOut.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self)
                        var b = s0 * F.load8(w0, byteOffset: offset)
                        a = multiplyAdd(a, s1, F.load8(w1, byteOffset: offset))
                        b = multiplyAdd(b, s2, F.load8(w2, byteOffset: offset))
                        a = multiplyAdd(a, s3, F.load8(w3, byteOffset: offset))
                        rawOut.storeBytes(of: a + b, toByteOffset: outOffset, as: SIMD8<Float>.self)
                        c &+= 8
                    }
                    for c in vectorEnd..<tileEnd {
                        out[c - partStart] += x0 * F.load(w0, index: c) + x1 * F.load(w1, index: c)
                            + x2 * F.load(w2, index: c) + x3 * F.load(w3, index: c)
                    }
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
