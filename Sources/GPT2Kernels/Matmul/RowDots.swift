// The decode kernel for output-major weights ([out, in]): each output is one dot product over a
// contiguous weight row. OpenBLAS's sgemm packs the whole matrix for so few rows of x, and its
// sgemv splits the output columns between threads; here the threads take contiguous ranges of
// whole weight rows, each read once as four front-to-back streams, and every row of x is dotted
// with them while they are in L1.

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
    let chunks = rowDotChunks(rows: outputs, rowLength: n, elementSize: w.elementSize)
    parallelChunks(chunks) { _, range in
        // four rows at a time, one from each quarter of the range: four long streams, which the
        // core's prefetchers follow better than one; the four rows stay in L1 while every x uses them
        let quarter = range.count / 4
        for r in range.lowerBound..<(range.lowerBound + quarter) {
            for m in 0..<M {
                let (a, b, c, d) = w.dot4(r, r + quarter, r + 2 * quarter, r + 3 * quarter, input: m)
                store(a, m, r); store(b, m, r + quarter); store(c, m, r + 2 * quarter); store(d, m, r + 3 * quarter)
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
    /// Weight row `r` dotted with row `m` of x.
    func dot(_ r: Int, input m: Int) -> Float
}

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
    @inline(__always) package func dot(_ r: Int, input m: Int) -> Float {
        GPT2Kernels.dot(row(r), F.self, x + m &* rowLength, rowLength)
    }
}

/// a · x, b · x, c · x, d · x over `n` elements, loading each lane of `x` once.
@inline(__always)
private func dot4<F: WeightFormat>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
                                   _ format: F.Type, _ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    var sa = SIMD8<Float>(), sb = SIMD8<Float>(), sc = SIMD8<Float>(), sd = SIMD8<Float>()
    let rx = UnsafeRawPointer(x)
    var i = 0
    while i < n / 8 * 8 {  // wrapping arithmetic below: i < n, so nothing can overflow
        let lane = rx.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        let offset = i &* F.size
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
