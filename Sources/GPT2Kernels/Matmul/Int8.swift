// Int8 weight matrices: each stored row (an output's weights, [out, in]) in blocks of
// `int8BlockSize` values that share one float scale, w ≈ scale · q with q in -127...127. A weight
// then costs 1.125 bytes instead of 4, and decoding, which streams every weight once per token,
// reads 3.6 times fewer bytes. Arithmetic stays float32: each block's products are summed in
// float, then scaled.

/// Weights per scale. 32 (as in llama.cpp's Q8_0): the scale's 4 bytes cost an eighth of a byte a
/// weight, and one outlier spoils the resolution of only 31 neighbours.
package let int8BlockSize = 32

/// Scales per stored row of `rowLength` values (the last block may be shorter).
package func int8Blocks(rowLength: Int) -> Int { (rowLength + int8BlockSize - 1) / int8BlockSize }

/// Quantizes `rows` rows of `rowLength` floats (`source`, rows `sourceStride` apart) into `q`
/// ([rows, rowLength]) and `scales` ([rows, int8Blocks]): each block's scale is its largest
/// magnitude / 127 (0 for a block of zeros), each value `(value / scale).rounded()`, all in float32.
package func quantizeRows(_ source: UnsafePointer<Float>, rows: Int, rowLength n: Int, sourceStride: Int,
                          into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
    let blocks = int8Blocks(rowLength: n)
    for r in 0..<rows {
        let row = source + r * sourceStride
        for b in 0..<blocks {
            let range = (b * int8BlockSize)..<min(n, (b + 1) * int8BlockSize)
            let largest = range.reduce(Float(0)) { max($0, abs(row[$1])) }
            let scale = largest / 127
            scales[r * blocks + b] = scale
            for i in range { q[r * n + i] = scale == 0 ? 0 : Int8((row[i] / scale).rounded()) }
        }
    }
}

/// Eight int8 values at `base + offset` as floats: one sign-extending load and one conversion
/// (written lane by lane: the vector `init(truncatingIfNeeded:)` is a call).
@inline(__always)
package func floatsFromInt8(_ base: UnsafePointer<Int8>, _ offset: Int) -> SIMD8<Float> {
    let v = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: SIMD8<Int8>.self)
    return SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// Int8 rows as the row-dot kernel reads them: `q` [rows, rowLength], `scales` [rows, blocks].
package struct Int8Rows: DotRows {
    let q: UnsafePointer<Int8>
    let scales: UnsafePointer<Float>
    package let rowLength: Int
    package var elementSize: Int { 1 }

    package init(q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, rowLength: Int) {
        (self.q, self.scales, self.rowLength) = (q, scales, rowLength)
    }

    @inline(__always) package func dot4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
        let n = rowLength, blocks = int8Blocks(rowLength: n)
        let (qa, qb, qc, qd) = (q + a &* n, q + b &* n, q + c &* n, q + d &* n)
        let (sa, sb, sc, sd) = (scales + a &* blocks, scales + b &* blocks, scales + c &* blocks, scales + d &* blocks)
        let rx = UnsafeRawPointer(x)
        var (ta, tb, tc, td) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        var i = 0, block = 0
        while i &+ int8BlockSize <= n {  // whole blocks: the block's sums in float, then scaled
            var (pa, pb, pc, pd) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var k = i
            while k < i &+ int8BlockSize {
                let lane = rx.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
                pa = multiplyAdd(pa, floatsFromInt8(qa, k), lane)
                pb = multiplyAdd(pb, floatsFromInt8(qb, k), lane)
                pc = multiplyAdd(pc, floatsFromInt8(qc, k), lane)
                pd = multiplyAdd(pd, floatsFromInt8(qd, k), lane)
                k &+= 8
            }
            ta = multiplyAdd(ta, pa, SIMD8(repeating: sa[block]))
            tb = multiplyAdd(tb, pb, SIMD8(repeating: sb[block]))
            tc = multiplyAdd(tc, pc, SIMD8(repeating: sc[block]))
            td = multiplyAdd(td, pd, SIMD8(repeating: sd[block]))
            i &+= int8BlockSize
            block &+= 1
        }
        var result = (horizontalSum(ta), horizontalSum(tb), horizontalSum(tc), horizontalSum(td))
        if i < n {  // a shorter last block
            var partial: (Float, Float, Float, Float) = (0, 0, 0, 0)
            for k in i..<n {
                partial.0 += Float(qa[k]) * x[k]
                partial.1 += Float(qb[k]) * x[k]
                partial.2 += Float(qc[k]) * x[k]
                partial.3 += Float(qd[k]) * x[k]
            }
            result.0 += partial.0 * sa[block]
            result.1 += partial.1 * sb[block]
            result.2 += partial.2 * sc[block]
            result.3 += partial.3 * sd[block]
        }
        return result
    }

    @inline(__always) package func dot(_ r: Int, _ x: UnsafePointer<Float>) -> Float {
        let n = rowLength, blocks = int8Blocks(rowLength: n)
        let row = q + r &* n, s = scales + r &* blocks
        let rx = UnsafeRawPointer(x)
        var total = SIMD8<Float>()
        var i = 0, block = 0
        while i &+ int8BlockSize <= n {
            var p = SIMD8<Float>()
            var k = i
            while k < i &+ int8BlockSize {
                p = multiplyAdd(p, floatsFromInt8(row, k), rx.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self))
                k &+= 8
            }
            total = multiplyAdd(total, p, SIMD8(repeating: s[block]))
            i &+= int8BlockSize
            block &+= 1
        }
        var result = horizontalSum(total)
        if i < n {
            var partial: Float = 0
            for k in i..<n { partial += Float(row[k]) * x[k] }
            result += partial * s[block]
        }
        return result
    }
}

/// Calls `body` with rows `rows` of an int8 matrix dequantized to float32 ([rows.count, rowLength])
/// in a temporary buffer, in parallel: how a prompt's sgemm reads int8 weights.
package func withFloats<R>(fromInt8 w: Int8Rows, rows: Range<Int>, _ body: (UnsafePointer<Float>) -> R) -> R {
    let n = w.rowLength, blocks = int8Blocks(rowLength: n)
    let floats = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * n)
    defer { floats.deallocate() }
    parallelRanges(rows.count, minimumPerPart: max(1, 16_384 / max(1, n))) { part in
        for r in part {
            let source = rows.lowerBound + r
            dequantizeRow(w.q + source * n, scales: w.scales + source * blocks, count: n, into: floats + r * n)
        }
    }
    return body(floats)
}

/// One int8 row of `count` values, with its scales, as floats.
package func dequantizeRow(_ q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
    let raw = UnsafeMutableRawPointer(out)
    var i = 0
    while i &+ 8 <= n {  // eight values never straddle two blocks: 8 divides the block size
        raw.storeBytes(of: floatsFromInt8(q, i) * SIMD8(repeating: scales[i / int8BlockSize]), toByteOffset: i &* 4, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < n {
        out[i] = Float(q[i]) * scales[i / int8BlockSize]
        i += 1
    }
}
