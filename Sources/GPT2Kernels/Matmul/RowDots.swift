// The decode kernel for output-major weights ([out, in]): each output is one dot product over a
// contiguous weight row. OpenBLAS's sgemm packs the whole matrix for so few rows of x, and its
// sgemv splits the output columns between threads; here the threads take contiguous ranges of
// whole weight rows, each read once as four front-to-back streams, and every row of x is dotted
// with them while they are in L1. Rows of x go four at a time (sixteen sums in registers), so that
// a batched step loads, or widens, each weight once for four sequences rather than once for each.

/// `y[M, out] = x[M, in] · Wᵀ + bias` for W stored [out, in] in format `F`, or `y += …` when
/// `adding`; then `activation` on each finished element. The threads share out W's rows in
/// shrinking chunks (``rowDotChunks(rows:rowLength:elementSize:)``); the bias is added as each dot
/// is stored, and a chunk's outputs are activated by the thread that wrote them while they are
/// still in its L1.
package func rowDots<F: WeightFormat, D: MatmulDestination>(
    _ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type, outputs: Int, inputs n: Int,
    into y: D, bias: UnsafePointer<Float>? = nil, adding: Bool = false, then activation: ActivationFunction? = nil
) {
    rowDots(rows: M, FormatRows<F>(base: w, rowLength: n, x: x), outputs: outputs, into: y, bias: bias, adding: adding, then: activation)
}

/// The same for any ``DotRows``: float32, float16 or int8 weight rows with the `M` rows of x.
package func rowDots<W: DotRows, D: MatmulDestination>(
    rows M: Int, _ w: W, outputs: Int,
    into y: D, bias: UnsafePointer<Float>? = nil, adding: Bool = false, then activation: ActivationFunction? = nil
) {
    let n = w.rowLength
    @inline(__always) func store(_ value: Float, _ m: Int, _ r: Int) {
        let e = y.element(m, r)
        let base = adding ? e.pointee : 0
        e.pointee = base + (bias.map { $0[r] } ?? 0) + value
    }
    @inline(__always) func store4(_ values: SIMD4<Float>, _ m: Int, _ rows: (Int, Int, Int, Int)) {
        store(values[0], m, rows.0); store(values[1], m, rows.1); store(values[2], m, rows.2); store(values[3], m, rows.3)
    }
    let chunks = rowDotChunks(rows: outputs, rowLength: n, elementSize: w.elementSize)
    parallelChunks(chunks) { _, range in
        // two tiles or more share each block of inputs (their sums and results kept here); one goes whole, below
        let tiles = M >= 8 ? M / 4 : 0
        let sums = tiles > 0 ? UnsafeMutableRawPointer.allocate(byteCount: tiles * tileSumsBytes, alignment: 64) : nil
        let results = tiles > 0 ? UnsafeMutablePointer<Tile4x4>.allocate(capacity: tiles) : nil
        defer { sums?.deallocate(); results?.deallocate() }
        // four rows at a time, one from each quarter of the range: four long streams, which the
        // core's prefetchers follow better than one; the four rows stay in L1 while every x uses them
        let quarter = range.count / 4
        for r in range.lowerBound..<(range.lowerBound + quarter) {
            let rows = (r, r + quarter, r + 2 * quarter, r + 3 * quarter)
            var m = 0
            if let sums, let results {  // eight rows of x or more: every tile of four a block of inputs at a time
                w.dotTiles(rows.0, rows.1, rows.2, rows.3, tiles: tiles, sums: sums, into: results)
                for t in 0..<tiles {
                    let tile = results[t]
                    store4(tile.0, 4 * t, rows); store4(tile.1, 4 * t + 1, rows); store4(tile.2, 4 * t + 2, rows)
                    store4(tile.3, 4 * t + 3, rows)
                }
                m = 4 * tiles
            }
            while m + 4 <= M {  // four rows of x at once: each weight loaded (and widened) once for four
                let t = w.dot4x4(rows.0, rows.1, rows.2, rows.3, inputs: m)
                store4(t.0, m, rows); store4(t.1, m + 1, rows); store4(t.2, m + 2, rows); store4(t.3, m + 3, rows)
                m += 4
            }
            while m < M {
                let (a, b, c, d) = w.dot4(rows.0, rows.1, rows.2, rows.3, input: m)
                store4(SIMD4(a, b, c, d), m, rows)
                m += 1
            }
        }
        for r in (range.lowerBound + 4 * quarter)..<range.upperBound {
            for m in 0..<M { store(w.dot(r, input: m), m, r) }
        }
        if let activation {
            for m in 0..<M { y.activate(m, range, activation) }
        }
    }
}

/// How ``rowDots(_:rows:_:_:outputs:inputs:into:bias:adding:then:)`` shares out W's rows:
/// shrinking chunks of at least 64 KB (each row is a whole dot product, so no chunk needs a
/// partial sum).
package func rowDotChunks(rows: Int, rowLength n: Int, elementSize: Int) -> [Range<Int>] {
    shrinkingChunks(rows, parts: min(parallelism, rows / 64), minimum: max(16, 65_536 / (n * elementSize)))
}

/// The operands of a row-dot product as ``rowDots(rows:_:outputs:into:bias:adding:then:)`` reads
/// them: the rows of an output-major weight matrix, each dotted with the rows of x.
package protocol DotRows {
    /// Elements per row (the product's inputs).
    var rowLength: Int { get }
    /// Bytes per weight, for sizing the threads' chunks.
    var elementSize: Int { get }
    /// Weight rows `a`, `b`, `c`, `d` each dotted with row `m` of x, loading each lane of x once.
    func dot4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, input m: Int) -> (Float, Float, Float, Float)
    /// The same with rows `m..<m + 4` of x, each weight loaded once for the four: element `[j][k]`
    /// is weight row k (of a, b, c, d) with row `m + j`, bit for bit what `dot4` gives for it.
    func dot4x4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, inputs m: Int) -> Tile4x4
    /// Weight row `r` dotted with row `m` of x.
    func dot(_ r: Int, input m: Int) -> Float
    /// `dot4x4` with rows `4t..<4t + 4` of x into `results[t]` for every t below `tiles`, bit for
    /// bit; `sums` has room for `tiles` × ``tileSumsBytes``.
    func dotTiles(_ a: Int, _ b: Int, _ c: Int, _ d: Int, tiles: Int, sums: UnsafeMutableRawPointer,
                  into results: UnsafeMutablePointer<Tile4x4>)
}

extension DotRows {
    /// One tile after another.
    @inline(__always) package func dotTiles(_ a: Int, _ b: Int, _ c: Int, _ d: Int, tiles: Int, sums: UnsafeMutableRawPointer,
                                            into results: UnsafeMutablePointer<Tile4x4>) {
        for t in 0..<tiles { results[t] = dot4x4(a, b, c, d, inputs: 4 * t) }
    }
}

/// Bytes of one tile's sixteen running sums, for ``DotRows/dotTiles(_:_:_:_:tiles:sums:into:)``.
package var tileSumsBytes: Int { MemoryLayout<Sums4x4>.stride }

/// Weight rows stored as elements of format `F`, `rowLength` to a row, and x [M, rowLength] in float32.
package struct FormatRows<F: WeightFormat>: DotRows {
    let base: UnsafeRawPointer
    package let rowLength: Int
    let x: UnsafePointer<Float>
    package var elementSize: Int { F.size }

    @inline(__always) private func row(_ r: Int) -> UnsafeRawPointer { base + r &* rowLength &* F.size }
    @inline(__always) package func dot4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, input m: Int) -> (Float, Float, Float, Float) {
        GPT2Kernels.dot4(row(a), row(b), row(c), row(d), F.self, x + m &* rowLength, rowLength)
    }
    @inline(__always) package func dot4x4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, inputs m: Int) -> Tile4x4 {
        GPT2Kernels.dot4x4(row(a), row(b), row(c), row(d), F.self, x + m &* rowLength, rowLength)
    }
    @inline(__always) package func dot(_ r: Int, input m: Int) -> Float {
        GPT2Kernels.dot(row(r), F.self, x + m &* rowLength, rowLength)
    }
    /// The tiles a block of 128 inputs at a time, each tile's sums kept in `sums` between blocks:
    /// the block of the four weight rows (2 KB of float32) comes from memory for the first tile and
    /// from L1 for the others, with the block of every row of x (8 KB for 16 rows), where whole
    /// rows (12 KB of weights and 48 KB of x at 768 inputs) had left L1. Each sum runs in the same
    /// order as in `dot4x4`.
    @inline(__always) package func dotTiles(_ a: Int, _ b: Int, _ c: Int, _ d: Int, tiles: Int, sums: UnsafeMutableRawPointer,
                                            into results: UnsafeMutablePointer<Tile4x4>) {
        let n = rowLength, vectorEnd = n / 8 * 8, block = 128
        let tileSums = sums.bindMemory(to: Sums4x4.self, capacity: tiles)
        for t in 0..<tiles { tileSums[t] = Sums4x4() }
        for start in stride(from: 0, to: vectorEnd, by: block) {
            for t in 0..<tiles {
                tileSums[t].accumulate(row(a), row(b), row(c), row(d), F.self, x + 4 &* t &* n, n, start..<min(vectorEnd, start + block))
            }
        }
        for t in 0..<tiles { results[t] = tileSums[t].finish(row(a), row(b), row(c), row(d), F.self, x + 4 &* t &* n, n) }
    }
}

/// a · x, b · x, c · x, d · x over `n` elements, loading each lane of `x` once.
@inline(__always)
private func dot4<F: WeightFormat>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                                   _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    var sa = SIMD8<Float>(), sb = SIMD8<Float>(), sc = SIMD8<Float>(), sd = SIMD8<Float>()
    let rx = UnsafeRawPointer(x)
    let rowBytes = n &* F.size
    var i = 0
    while i < n / 8 * 8 {  // wrapping arithmetic below: i < n, so nothing can overflow
        let lane = rx.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        let offset = i &* F.size
        prefetch(a, b, c, d, offset: offset, ahead: rowBytes)  // the next rows
        sa = multiplyAdd(sa, F.load8(a, byteOffset: offset), lane)
        sb = multiplyAdd(sb, F.load8(b, byteOffset: offset), lane)
        sc = multiplyAdd(sc, F.load8(c, byteOffset: offset), lane)
        sd = multiplyAdd(sd, F.load8(d, byteOffset: offset), lane)
        i &+= 8
    }
    var result = (horizontalSum(sa), horizontalSum(sb), horizontalSum(sc), horizontalSum(sd))
    while i < n {
        result.0 += F.load(a, index: i) * x[i]
        result.1 += F.load(b, index: i) * x[i]
        result.2 += F.load(c, index: i) * x[i]
        result.3 += F.load(d, index: i) * x[i]
        i += 1
    }
    return result
}

/// Four results for each of four rows of x: `[j][k]` is weight row k with x row j.
package typealias Tile4x4 = (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)

extension SIMD4 where Scalar == Float {
    @inline(__always) init(sums a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) {
        self.init(horizontalSum(a), horizontalSum(b), horizontalSum(c), horizontalSum(d))
    }
}

/// ``dot4(_:_:_:_:_:_:_:)`` for the four rows of x at `x`, `n` apart: sixteen accumulators, each
/// summed in the same order as there, so that a row's results do not depend on its neighbours.
@inline(__always)
private func dot4x4<F: WeightFormat>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                                     _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int) -> Tile4x4 {
    var sums = Sums4x4()
    sums.accumulate(a, b, c, d, F.self, x, n, 0..<(n / 8 * 8))
    return sums.finish(a, b, c, d, F.self, x, n)
}

/// The sixteen accumulators of ``dot4x4(_:_:_:_:_:_:_:)``: `[j][k]`, weight row k with x row j.
private struct Sums4x4 {
    var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), c0 = SIMD8<Float>(), d0 = SIMD8<Float>()
    var a1 = SIMD8<Float>(), b1 = SIMD8<Float>(), c1 = SIMD8<Float>(), d1 = SIMD8<Float>()
    var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), c2 = SIMD8<Float>(), d2 = SIMD8<Float>()
    var a3 = SIMD8<Float>(), b3 = SIMD8<Float>(), c3 = SIMD8<Float>(), d3 = SIMD8<Float>()

    /// Adds inputs `inputs` (whole vectors of eight) of the four weight rows times the four rows of
    /// x at `x`, `n` apart (the sums in registers meanwhile).
    @inline(__always)
    mutating func accumulate<F: WeightFormat>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                                              _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int, _ inputs: Range<Int>) {
        var (a0, b0, c0, d0, a1, b1, c1, d1) = (self.a0, self.b0, self.c0, self.d0, self.a1, self.b1, self.c1, self.d1)
        var (a2, b2, c2, d2, a3, b3, c3, d3) = (self.a2, self.b2, self.c2, self.d2, self.a3, self.b3, self.c3, self.d3)
        let x0 = UnsafeRawPointer(x), x1 = x0 + n &* 4, x2 = x1 + n &* 4, x3 = x2 + n &* 4
        let rowBytes = n &* F.size
        var i = inputs.lowerBound
        while i < inputs.upperBound {  // wrapping arithmetic below: i < n, so nothing can overflow
            let offset = i &* F.size, xOffset = i &* 4
            prefetch(a, b, c, d, offset: offset, ahead: rowBytes)  // the next rows
            let wa = F.load8(a, byteOffset: offset), wb = F.load8(b, byteOffset: offset)
            let wc = F.load8(c, byteOffset: offset), wd = F.load8(d, byteOffset: offset)
            var lane = x0.loadUnaligned(fromByteOffset: xOffset, as: SIMD8<Float>.self)
            a0 = multiplyAdd(a0, wa, lane); b0 = multiplyAdd(b0, wb, lane); c0 = multiplyAdd(c0, wc, lane); d0 = multiplyAdd(d0, wd, lane)
            lane = x1.loadUnaligned(fromByteOffset: xOffset, as: SIMD8<Float>.self)
            a1 = multiplyAdd(a1, wa, lane); b1 = multiplyAdd(b1, wb, lane); c1 = multiplyAdd(c1, wc, lane); d1 = multiplyAdd(d1, wd, lane)
            lane = x2.loadUnaligned(fromByteOffset: xOffset, as: SIMD8<Float>.self)
            a2 = multiplyAdd(a2, wa, lane); b2 = multiplyAdd(b2, wb, lane); c2 = multiplyAdd(c2, wc, lane); d2 = multiplyAdd(d2, wd, lane)
            lane = x3.loadUnaligned(fromByteOffset: xOffset, as: SIMD8<Float>.self)
            a3 = multiplyAdd(a3, wa, lane); b3 = multiplyAdd(b3, wb, lane); c3 = multiplyAdd(c3, wc, lane); d3 = multiplyAdd(d3, wd, lane)
            i &+= 8
        }
        (self.a0, self.b0, self.c0, self.d0, self.a1, self.b1, self.c1, self.d1) = (a0, b0, c0, d0, a1, b1, c1, d1)
        (self.a2, self.b2, self.c2, self.d2, self.a3, self.b3, self.c3, self.d3) = (a2, b2, c2, d2, a3, b3, c3, d3)
    }

    /// The sums, with the inputs past the last whole vector added one by one (as `dot4`'s tail).
    @inline(__always)
    func finish<F: WeightFormat>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                                 _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int) -> Tile4x4 {
        var result = (SIMD4<Float>(sums: a0, b0, c0, d0), SIMD4<Float>(sums: a1, b1, c1, d1),
                      SIMD4<Float>(sums: a2, b2, c2, d2), SIMD4<Float>(sums: a3, b3, c3, d3))
        var i = n / 8 * 8
        while i < n {
            let w = SIMD4<Float>(F.load(a, index: i), F.load(b, index: i), F.load(c, index: i), F.load(d, index: i))
            result.0 += w * x[i]; result.1 += w * x[n + i]; result.2 += w * x[2 * n + i]; result.3 += w * x[3 * n + i]
            i += 1
        }
        return result
    }
}

/// w · x over `n` elements.
@inline(__always)
private func dot<F: WeightFormat>(_ w: UnsafeRawPointer, _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>()
    let rx = UnsafeRawPointer(x)
    var i = 0
    while i < n / 16 * 16 {  // wrapping arithmetic below: i < n, so nothing can overflow
        sum0 = multiplyAdd(sum0, F.load8(w, byteOffset: i &* F.size), rx.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self))
        sum1 = multiplyAdd(sum1, F.load8(w, byteOffset: (i &+ 8) &* F.size), rx.loadUnaligned(fromByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self))
        i &+= 16
    }
    var sum = horizontalSum(sum0 + sum1)
    while i < n {
        sum += F.load(w, index: i) * x[i]
        i += 1
    }
    return sum
}
