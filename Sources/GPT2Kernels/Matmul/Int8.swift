// Int8 weight matrices: each stored row (an output's weights, [out, in]) in blocks of
// `int8BlockSize` values that share one float scale, w ≈ scale · q with q in -127...127. A weight
// then costs 1.0625 bytes instead of 4, and decoding, which streams every weight once per token,
// reads 3.8 times fewer bytes. A decode step rounds its rows of x to int16 in the same blocks, so
// that a block's products are an exact integer sum (`pmaddwd` on x86, in SSE2 as in AVX2), then
// scaled and summed in float32. A prompt's sgemm reads the weights widened to float32.

/// Weights per scale. 64 rather than llama.cpp's 32: a sixteenth of a byte a weight for the scale
/// instead of an eighth, and half the scaling work per product, for decoding measurably faster at
/// no measurable cost in quality (Benchmarks/README.md); an outlier spoils the resolution of 63
/// neighbours. A multiple of 16, the products' vector width.
package let int8BlockSize = 64

/// Scales per stored row of `rowLength` values (the last block may be shorter).
package func int8Blocks(rowLength: Int) -> Int { (rowLength + int8BlockSize - 1) / int8BlockSize }

/// Quantizes `rows` rows of `rowLength` floats (`source`, rows `sourceStride` apart) into `q`
/// ([rows, rowLength]) and `scales` ([rows, int8Blocks]): each block's scale is its largest
/// magnitude / 127 (0 for a block of zeros), each value `(value / scale).rounded()`, all in float32.
/// With `columns`, whole blocks of those columns only (a start at a multiple of `int8BlockSize`),
/// where `source` holds just them. The values must be finite (the loader has checked every weight).
package func quantizeRows(_ source: UnsafePointer<Float>, rows: Int, rowLength n: Int, columns: Range<Int>? = nil,
                          sourceStride: Int, into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
    let columns = columns ?? 0..<n, blocks = int8Blocks(rowLength: n)
    precondition(columns.lowerBound % int8BlockSize == 0 && columns.upperBound <= n, "quantizeRows: whole blocks of a row")
    for r in 0..<rows {
        for start in stride(from: columns.lowerBound, to: columns.upperBound, by: int8BlockSize) {
            scales[r * blocks + start / int8BlockSize] = quantizeBlock(
                source + r * sourceStride + start - columns.lowerBound, count: min(int8BlockSize, columns.upperBound - start),
                levels: 127, into: q + r * n + start)
        }
    }
}

/// Rounds `count` values to integers in -levels...levels with one scale, their largest magnitude
/// / `levels` (0 for zeros), each `(value / scale).rounded()`, clamped (a subnormal block's scale
/// is inexact, and a quotient could pass the bound and trap); returns the scale. A NaN or an
/// infinity makes the scale NaN and every value 0, so that it reaches the outputs rather than
/// trapping in the conversion.
@inline(__always)
private func quantizeBlock<T: FixedWidthInteger & SignedInteger>(_ x: UnsafePointer<Float>, count: Int, levels: Float,
                                                                into q: UnsafeMutablePointer<T>) -> Float {
    var largest: Float = 0
    for i in 0..<count {
        let magnitude = abs(x[i])
        if magnitude.isNaN || magnitude > largest { largest = magnitude }
    }
    let scale = largest.isFinite ? largest / levels : .nan
    // through Int32, a single instruction: the generic `T(_: Float)` is a library call per value
    for i in 0..<count { q[i] = scale > 0 ? T(truncatingIfNeeded: Int32(max(-levels, min(levels, (x[i] / scale).rounded())))) : 0 }
    return scale
}

/// Eight int8 values at `base + offset` as floats: one sign-extending load and one conversion
/// (written lane by lane: the vector `init(truncatingIfNeeded:)` is a call).
@inline(__always)
package func floatsFromInt8(_ base: UnsafePointer<Int8>, _ offset: Int) -> SIMD8<Float> {
    let v = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: SIMD8<Int8>.self)
    return SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// Rows of x as the int8 products read them: each block of `int8BlockSize` values as int16 with a
/// float scale (largest magnitude / 32767), so that a block's products are exact integer sums; in
/// SSE2 builds each 16 values of a whole block in the order ``pairSums(_:_:)`` pairs them.
/// The rounding moves x by at most 1/65534 of its block's largest magnitude, far less than the
/// weights' own rounding.
package struct Int16Rows {
    package let values: UnsafeMutablePointer<Int16>  // [M, rowLength]
    package let scales: UnsafeMutablePointer<Float>  // [M, int8Blocks(rowLength:)]

    /// Quantizes the `M` rows of `x` ([M, n]) into new buffers; `deallocate()` frees them.
    package init(_ x: UnsafePointer<Float>, rows M: Int, rowLength n: Int) {
        let blocks = int8Blocks(rowLength: n)
        values = .allocate(capacity: M * n)
        scales = .allocate(capacity: M * blocks)
        for m in 0..<M {
            for b in 0..<blocks {  // a NaN or infinity reaches the logits, where the engine reports it
                let start = m * n + b * int8BlockSize
                let count = min(int8BlockSize, n - b * int8BlockSize)
                scales[m * blocks + b] = quantizeBlock(x + start, count: count, levels: 32767, into: values + start)
                if KernelBuild.splitsInt8Pairs && count == int8BlockSize {
                    for group in stride(from: start, to: start + count, by: 16) { Self.splitPairs(values + group) }
                }
            }
        }
    }

    /// Sixteen values in place as ``pairSums(_:_:)`` takes them in SSE2: the even-numbered eight,
    /// then the odd-numbered eight.
    private static func splitPairs(_ v: UnsafeMutablePointer<Int16>) {
        let ordered = UnsafeRawPointer(v).loadUnaligned(as: SIMD16<Int16>.self)
        for lane in 0..<8 { v[lane] = ordered[2 * lane]; v[lane + 8] = ordered[2 * lane + 1] }
    }

    package func deallocate() {
        values.deallocate()
        scales.deallocate()
    }
}

/// Sixteen int8 weights times sixteen int16 inputs, summed in adjacent pairs: eight exact int32
/// sums, with one `pmaddwd` (``pairSums(_:_:)``).
@inline(__always)
private func pairProducts(_ w: UnsafePointer<Int8>, _ k: Int, _ x: SIMD16<Int32>) -> SIMD8<Int32> {
    pairSums(weights16(w, k), x)
}

/// Sixteen int8 weights at `w + k`, for ``pairSums(_:_:)``.
@inline(__always)
private func weights16(_ w: UnsafePointer<Int8>, _ k: Int) -> SIMD16<Int8> {
    UnsafeRawPointer(w).loadUnaligned(fromByteOffset: k, as: SIMD16<Int8>.self)
}

/// Sixteen int8 weights already loaded times sixteen int16 inputs (as ``Int16Rows`` stores them),
/// summed in adjacent pairs. Written lane by lane, so that LLVM makes it one `pmaddwd`; the weights
/// are widened here at each use, where weights widened once for several rows of x became 32-bit
/// multiplies. With a sign-extending load (SSE4.1, ARM64) they are widened in order. In SSE2, the
/// even-numbered weights by shifting left then right within each 16-bit pair and the odd ones by
/// a shift right, all from the loaded register: unpacking them into 16 bits instead left LLVM free
/// to take the unused bytes from any register, often the last product, a chain through the loop
/// (Benchmarks/README.md). ``Int16Rows`` stores x in that order there.
@inline(__always)
private func pairSums(_ v: SIMD16<Int8>, _ x: SIMD16<Int32>) -> SIMD8<Int32> {
    var wide = SIMD16<Int32>()
    if KernelBuild.splitsInt8Pairs {
        let pairs = unsafeBitCast(v, to: SIMD8<Int16>.self)
        let even = (pairs &<< 8) &>> 8, odd = pairs &>> 8
        for lane in 0..<8 { wide[lane] = Int32(even[lane]); wide[lane + 8] = Int32(odd[lane]) }
    } else {
        for lane in 0..<16 { wide[lane] = Int32(v[lane]) }
    }
    let p = wide &* x
    return SIMD8<Int32>(p[0], p[2], p[4], p[6], p[8], p[10], p[12], p[14])
        &+ SIMD8<Int32>(p[1], p[3], p[5], p[7], p[9], p[11], p[13], p[15])
}

/// One block's exact sums for four weight rows with one row of x.
private struct IntSums4 {
    var a = SIMD8<Int32>(), b = SIMD8<Int32>(), c = SIMD8<Int32>(), d = SIMD8<Int32>()
    @inline(__always) mutating func add(_ w: (SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>), _ x: SIMD16<Int32>) {
        a &+= pairSums(w.0, x); b &+= pairSums(w.1, x); c &+= pairSums(w.2, x); d &+= pairSums(w.3, x)
    }
}

/// Four weight rows' running float sums with one row of x: each block's exact sums times its
/// scales (`scales[k]`: weight row k's scale × the input's), as ``Int8Rows/dot4(_:_:_:_:input:)`` adds them.
private struct Accumulators4 {
    var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
    @inline(__always) mutating func add(_ sums: IntSums4, _ scales: SIMD4<Float>) {
        a = multiplyAdd(a, floats(sums.a), SIMD8(repeating: scales[0]))
        b = multiplyAdd(b, floats(sums.b), SIMD8(repeating: scales[1]))
        c = multiplyAdd(c, floats(sums.c), SIMD8(repeating: scales[2]))
        d = multiplyAdd(d, floats(sums.d), SIMD8(repeating: scales[3]))
    }
    @inline(__always) var totals: SIMD4<Float> { SIMD4(horizontalSum(a), horizontalSum(b), horizontalSum(c), horizontalSum(d)) }
}

/// Sixteen int16 inputs from `x + k`, widened to int32.
@inline(__always)
private func inputs16(_ x: UnsafePointer<Int16>, _ k: Int) -> SIMD16<Int32> {
    let v = UnsafeRawPointer(x).loadUnaligned(fromByteOffset: 2 &* k, as: SIMD16<Int16>.self)
    var wide = SIMD16<Int32>()
    for lane in 0..<16 { wide[lane] = Int32(v[lane]) }
    return wide
}

@inline(__always)
private func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// Int8 weight rows (`q` [rows, rowLength], `scales` [rows, blocks]) with the rows of x as
/// ``Int16Rows``: each block's products summed exactly in int32, then scaled by the weight's and
/// the input's scales and summed in float.
package struct Int8Rows: DotRows {
    let q: UnsafePointer<Int8>
    let scales: UnsafePointer<Float>
    package let rowLength: Int
    let x: Int16Rows
    package var elementSize: Int { 1 }

    package init(q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, rowLength: Int, x: Int16Rows) {
        (self.q, self.scales, self.rowLength, self.x) = (q, scales, rowLength, x)
    }

    @inline(__always) package func dot4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, input m: Int) -> (Float, Float, Float, Float) {
        let n = rowLength, blocks = int8Blocks(rowLength: n)
        let (qa, qb, qc, qd) = (q + a &* n, q + b &* n, q + c &* n, q + d &* n)
        let (sa, sb, sc, sd) = (scales + a &* blocks, scales + b &* blocks, scales + c &* blocks, scales + d &* blocks)
        let xq = UnsafePointer(x.values) + m &* n, xs = x.scales + m &* blocks
        var (ta, tb, tc, td) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        var i = 0, block = 0
        while i &+ int8BlockSize <= n {  // whole blocks
            var (ia, ib, ic, id) = (SIMD8<Int32>(), SIMD8<Int32>(), SIMD8<Int32>(), SIMD8<Int32>())
            var k = i
            while k < i &+ int8BlockSize {
                let lane = inputs16(xq, k)
                ia &+= pairProducts(qa, k, lane)
                ib &+= pairProducts(qb, k, lane)
                ic &+= pairProducts(qc, k, lane)
                id &+= pairProducts(qd, k, lane)
                k &+= 16
            }
            let s = xs[block]
            ta = multiplyAdd(ta, floats(ia), SIMD8(repeating: sa[block] * s))
            tb = multiplyAdd(tb, floats(ib), SIMD8(repeating: sb[block] * s))
            tc = multiplyAdd(tc, floats(ic), SIMD8(repeating: sc[block] * s))
            td = multiplyAdd(td, floats(id), SIMD8(repeating: sd[block] * s))
            i &+= int8BlockSize
            block &+= 1
        }
        var result = (horizontalSum(ta), horizontalSum(tb), horizontalSum(tc), horizontalSum(td))
        if i < n {  // a shorter last block
            var sums: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
            for k in i..<n {
                let v = Int32(xq[k])
                sums.0 &+= Int32(qa[k]) &* v
                sums.1 &+= Int32(qb[k]) &* v
                sums.2 &+= Int32(qc[k]) &* v
                sums.3 &+= Int32(qd[k]) &* v
            }
            let s = xs[block]
            result.0 += Float(sums.0) * (sa[block] * s)
            result.1 += Float(sums.1) * (sb[block] * s)
            result.2 += Float(sums.2) * (sc[block] * s)
            result.3 += Float(sums.3) * (sd[block] * s)
        }
        return result
    }

    @inline(__always) package func dot4x4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, inputs m: Int) -> Tile4x4 {
        let n = rowLength, blocks = int8Blocks(rowLength: n)
        let (qa, qb, qc, qd) = (q + a &* n, q + b &* n, q + c &* n, q + d &* n)
        let (sa, sb, sc, sd) = (scales + a &* blocks, scales + b &* blocks, scales + c &* blocks, scales + d &* blocks)
        let xq = UnsafePointer(x.values) + m &* n, xs = x.scales + m &* blocks
        // t[j]: the four weight rows' running sums with x row m + j, as in dot4
        var t = (Accumulators4(), Accumulators4(), Accumulators4(), Accumulators4())
        var i = 0, block = 0
        while i &+ int8BlockSize <= n {  // whole blocks
            var sums = (IntSums4(), IntSums4(), IntSums4(), IntSums4())
            var k = i
            while k < i &+ int8BlockSize {  // each weight loaded once for the four rows of x
                let w = (weights16(qa, k), weights16(qb, k), weights16(qc, k), weights16(qd, k))
                sums.0.add(w, inputs16(xq, k))
                sums.1.add(w, inputs16(xq + n, k))
                sums.2.add(w, inputs16(xq + 2 &* n, k))
                sums.3.add(w, inputs16(xq + 3 &* n, k))
                k &+= 16
            }
            let weightScales = SIMD4<Float>(sa[block], sb[block], sc[block], sd[block])
            t.0.add(sums.0, weightScales * xs[block])
            t.1.add(sums.1, weightScales * xs[block &+ blocks])
            t.2.add(sums.2, weightScales * xs[block &+ 2 &* blocks])
            t.3.add(sums.3, weightScales * xs[block &+ 3 &* blocks])
            i &+= int8BlockSize
            block &+= 1
        }
        var result = (t.0.totals, t.1.totals, t.2.totals, t.3.totals)
        if i < n {  // a shorter last block, per row of x as in dot4
            func tail(_ j: Int) -> SIMD4<Float> {
                var sums = SIMD4<Int32>()
                for k in i..<n {
                    let v = Int32(xq[j &* n &+ k])
                    sums &+= SIMD4(Int32(qa[k]), Int32(qb[k]), Int32(qc[k]), Int32(qd[k])) &* v
                }
                let s = xs[j &* blocks &+ block]
                return SIMD4<Float>(Float(sums[0]), Float(sums[1]), Float(sums[2]), Float(sums[3]))
                    * (SIMD4<Float>(sa[block], sb[block], sc[block], sd[block]) * s)
            }
            result.0 += tail(0); result.1 += tail(1); result.2 += tail(2); result.3 += tail(3)
        }
        return result
    }

    @inline(__always) package func dot(_ r: Int, input m: Int) -> Float {
        let n = rowLength, blocks = int8Blocks(rowLength: n)
        let row = q + r &* n, sw = scales + r &* blocks
        let xq = UnsafePointer(x.values) + m &* n, xs = x.scales + m &* blocks
        var total = SIMD8<Float>()
        var i = 0, block = 0
        while i &+ int8BlockSize <= n {
            var sums = SIMD8<Int32>()
            var k = i
            while k < i &+ int8BlockSize {
                sums &+= pairProducts(row, k, inputs16(xq, k))
                k &+= 16
            }
            total = multiplyAdd(total, floats(sums), SIMD8(repeating: sw[block] * xs[block]))
            i &+= int8BlockSize
            block &+= 1
        }
        var result = horizontalSum(total)
        if i < n {
            var sum: Int32 = 0
            for k in i..<n { sum &+= Int32(row[k]) &* Int32(xq[k]) }
            result += Float(sum) * (sw[block] * xs[block])
        }
        return result
    }
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
