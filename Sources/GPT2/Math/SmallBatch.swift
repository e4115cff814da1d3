// Matrix products for decode: a few rows (one new token of each of 1–16 sequences) against a
// large weight matrix. OpenBLAS's sgemm packs the whole weight matrix for such shapes and streams
// it at a fraction of the memory bandwidth, and its sgemv splits the output columns between
// threads (each thread reads part of every row); these kernels give the threads contiguous
// ranges of whole rows, each read once as four front-to-back streams, with the few multiply-adds
// per weight in registers.

/// Most rows the small-batch kernels take; more go to sgemm, which then runs at full speed.
let smallBatchLimit = 16

/// Debug builds (what `swift test` runs) send single rows to OpenBLAS's sgemv instead: unoptimized,
/// these Swift kernels decode about 5× slower, and the end-to-end tests decode thousands of
/// tokens. The one-row case of the kernels is covered by their unit tests.
#if DEBUG
let singleRowThroughBLAS = true
#else
let singleRowThroughBLAS = false
#endif

/// Whether a product of `rows` rows against transposed weights goes through the row dots.
func rowDotsTake(rows: Int) -> Bool { rows <= smallBatchLimit && !(rows == 1 && singleRowThroughBLAS) }

/// How the elements of a weight matrix are stored: the kernels below are generic over it and
/// specialized for each, so float32 weights cost nothing extra.
protocol WeightFormat {
    /// Bytes per element.
    static var size: Int { get }
    /// Eight elements from `base + byteOffset`, as floats.
    static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float>
    /// Element `index`, as a float.
    static func load(_ base: UnsafeRawPointer, index: Int) -> Float
}

enum Float32Format: WeightFormat {
    static var size: Int { 4 }
    @inline(__always) static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load(_ base: UnsafeRawPointer, index: Int) -> Float {
        base.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
    }
}

enum Float16Format: WeightFormat {
    static var size: Int { 2 }
    @inline(__always) static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
        floatsFromHalves(base, byteOffset: byteOffset)
    }
    @inline(__always) static func load(_ base: UnsafeRawPointer, index: Int) -> Float {
        floatFromHalf(base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
    }
}

/// `y[M, out] += x[M, in] · W` for W stored [in, out] row-major (GPT-2's Conv1D layout).
/// The threads share out W's rows in chunks (``accumulateChunks(inputSize:outputSize:elementSize:)``
/// through ``parallelChunks(_:_:)``), each streamed front to back. The first chunk adds into `y`
/// directly, every other one into a partial sum of its own, added to `y` in chunk order at the
/// end: the result does not depend on which thread took which chunk, so it is the same in every run.
func smallBatchAccumulate(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>,
                          inputSize: Int, outputSize: Int, into y: UnsafeMutablePointer<Float>) {
    smallBatchAccumulate(x, rows: M, UnsafeRawPointer(w), Float32Format.self, inputSize: inputSize, outputSize: outputSize, into: y)
}

/// The same for weights stored as `format`; `chunks` replaces ``accumulateChunks(inputSize:outputSize:elementSize:)``'s
/// split (the tests give one, so that the partial sums run on a one-core machine too).
func smallBatchAccumulate<F: WeightFormat>(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type,
                                           inputSize: Int, outputSize: Int, into y: UnsafeMutablePointer<Float>,
                                           chunks: [Range<Int>]? = nil) {
    let chunks = chunks ?? accumulateChunks(inputSize: inputSize, outputSize: outputSize, elementSize: F.size)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: (chunks.count - 1) * M * outputSize)
    defer { partials.deallocate() }
    parallelChunks(chunks) { index, rows in
        let accumulator = index == 0 ? y : partials + (index - 1) * M * outputSize
        if index > 0 { accumulator.initialize(repeating: 0, count: M * outputSize) }
        accumulateRows(x, M: M, w, F.self, inputSize: inputSize, outputSize: outputSize, rows: rows, into: accumulator)
    }
    for index in 1..<chunks.count {
        addRows(partials + (index - 1) * M * outputSize, to: y, rows: 1, n: M * outputSize)
    }
}

/// How ``smallBatchAccumulate(_:rows:_:_:inputSize:outputSize:into:)`` shares out W's rows: one large
/// chunk per thread, then a shrinking tail (``fewPartialChunks(_:parts:minimum:multiple:)``), every chunk
/// at least 64 KB of W so that each is still a long stream. Against the earlier
/// ``shrinkingChunks(_:parts:minimum:multiple:)`` split (11–16 chunks per GPT-2 matrix, so as many
/// partial sums), the products read 2.4–5.2 points closer to a bare read of the same bytes
/// (`gpt2-bench decode-read`, three pairs) and 8 × tg64 ran 4.7–9.0 % faster (three pairs).
func accumulateChunks(inputSize: Int, outputSize: Int, elementSize: Int) -> [Range<Int>] {
    fewPartialChunks(inputSize, parts: min(parallelism, inputSize / 64), minimum: max(4, 65_536 / (outputSize * elementSize)))
}

/// acc[m, :] += Σ_{i in rows} x[m, i] · W[i, :]. The rows go four at a time, one from each
/// quarter of the range, so the core reads four long front-to-back streams, which its prefetchers
/// follow best: one core of the development VM read 3072 × 768 matrices at 27.6 GB/s this way,
/// 15.7 GB/s four neighbouring rows at a time (short streams that restart every row) and 19.1 as
/// one stream. In column tiles small enough that the tile of four rows stays in L1 while every m
/// uses it.
@inline(__always)
private func accumulateRows<F: WeightFormat>(_ x: UnsafePointer<Float>, M: Int, _ w: UnsafeRawPointer, _ format: F.Type,
                                             inputSize: Int, outputSize: Int,
                                             rows: Range<Int>, into acc: UnsafeMutablePointer<Float>) {
    let tile = 512
    let stride = outputSize * F.size  // bytes per row of W
    let quarter = rows.count / 4
    let q = quarter * stride          // bytes from one stream to the next
    for i in rows.lowerBound..<(rows.lowerBound + quarter) {  // rows i, i + quarter, i + 2·quarter, i + 3·quarter
        let w0 = w + i * stride, w1 = w0 + q, w2 = w0 + 2 * q, w3 = w0 + 3 * q
        for tileStart in Swift.stride(from: 0, to: outputSize, by: tile) {
            let tileEnd = min(outputSize, tileStart + tile)
            let vectorEnd = tileStart + (tileEnd - tileStart) / 8 * 8
            for m in 0..<M {
                let xm = x + m * inputSize + i
                let x0 = xm[0], x1 = xm[quarter], x2 = xm[2 * quarter], x3 = xm[3 * quarter]
                let s0 = SIMD8<Float>(repeating: x0), s1 = SIMD8<Float>(repeating: x1)
                let s2 = SIMD8<Float>(repeating: x2), s3 = SIMD8<Float>(repeating: x3)
                let out = UnsafeMutableRawPointer(acc + m * outputSize)
                var c = tileStart
                while c < vectorEnd {
                    // wrapping index arithmetic (c < outputSize cannot overflow): the overflow
                    // checks cost a third of a batched decode, where this loop is compute-bound
                    let offset = c &* F.size, outOffset = c &* 4
                    // two chains of multiply-adds, so a pass waits on two FMA latencies, not four
                    var a = out.loadUnaligned(fromByteOffset: outOffset, as: SIMD8<Float>.self)
                    var b = s0 * F.load8(w0, byteOffset: offset)
                    a = multiplyAdd(a, s1, F.load8(w1, byteOffset: offset))
                    b = multiplyAdd(b, s2, F.load8(w2, byteOffset: offset))
                    a = multiplyAdd(a, s3, F.load8(w3, byteOffset: offset))
                    out.storeBytes(of: a + b, toByteOffset: outOffset, as: SIMD8<Float>.self)
                    c &+= 8
                }
                for c in vectorEnd..<tileEnd {
                    acc[m * outputSize + c] += x0 * F.load(w0, index: c) + x1 * F.load(w1, index: c)
                        + x2 * F.load(w2, index: c) + x3 * F.load(w3, index: c)
                }
            }
        }
    }
    for i in (rows.lowerBound + 4 * quarter)..<rows.upperBound {  // the last rows.count % 4
        let row = w + i * stride
        for m in 0..<M {
            for c in 0..<outputSize { acc[m * outputSize + c] += x[m * inputSize + i] * F.load(row, index: c) }
        }
    }
}

/// Where the row dots put output `r` of input row `m`: a dense matrix (``DenseRows``), or for
/// `c_attn` in a decode step, the queries in one place and the keys and values in the caches
/// (`applyWritingKeysAndValues`).
protocol RowDotDestination {
    func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float>
    /// Applies `activation` to outputs `range` of input row `m`.
    func activate(_ m: Int, _ range: Range<Int>, _ activation: Activation)
}

/// `y[M, wRows]`, row-major.
struct DenseRows: RowDotDestination {
    let y: UnsafeMutablePointer<Float>
    let wRows: Int
    @inline(__always) func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float> { y + (m &* wRows &+ r) }
    func activate(_ m: Int, _ range: Range<Int>, _ activation: Activation) {
        activateSerially(element(m, range.lowerBound), count: range.count, activation)
    }
}

/// `y[M, wRows] = x[M, n] · Wᵀ` for float32 W stored [wRows, n] row-major, into a dense `y`.
func smallBatchRowDots(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>, wRows: Int, n: Int,
                       into y: UnsafeMutablePointer<Float>, adding: Bool = false) {
    smallBatchRowDots(x, rows: M, UnsafeRawPointer(w), Float32Format.self, wRows: wRows, n: n,
                      into: DenseRows(y: y, wRows: wRows), adding: adding)
}

/// `y[M, wRows] = x[M, n] · Wᵀ + bias` for W stored [wRows, n] row-major (the LM head against
/// `wte`, and the blocks' products on transposed resident weights), or `y += …` when `adding`;
/// then `activation`, if given, on each finished element of `y`.
/// The threads share out W's rows in shrinking chunks (``rowDotChunks(wRows:n:elementSize:)``);
/// each row is read once and dotted with every x, and the bias added as the dot is stored (no
/// pass over `y` before). A chunk's outputs are activated by the thread that wrote them, right
/// away: still in its L1, and while the other thread streams weights.
func smallBatchRowDots<F: WeightFormat, D: RowDotDestination>(
    _ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type, wRows: Int, n: Int,
    into y: D, bias: UnsafePointer<Float>? = nil, adding: Bool = false, then activation: Activation? = nil
) {
    @inline(__always) func store(_ value: Float, _ m: Int, _ r: Int) {
        let e = y.element(m, r)
        let base = adding ? e.pointee : 0
        e.pointee = base + (bias.map { $0[r] } ?? 0) + value
    }
    let chunks = rowDotChunks(wRows: wRows, n: n, elementSize: F.size)
    parallelChunks(chunks) { _, range in
        // four rows at a time, one from each quarter of the range: four long streams, as in
        // `accumulateRows`; the four rows stay in L1 while every x uses them
        let quarter = range.count / 4
        for r in range.lowerBound..<(range.lowerBound + quarter) {
            let row = w + r * n * F.size, q = quarter * n * F.size
            for m in 0..<M {
                let (a, b, c, d) = dot4(row, row + q, row + 2 * q, row + 3 * q, F.self, x + m * n, n)
                store(a, m, r); store(b, m, r + quarter); store(c, m, r + 2 * quarter); store(d, m, r + 3 * quarter)
            }
        }
        for r in (range.lowerBound + 4 * quarter)..<range.upperBound {
            for m in 0..<M { store(dot(w + r * n * F.size, F.self, x + m * n, n), m, r) }
        }
        if let activation {
            for m in 0..<M { y.activate(m, range, activation) }
        }
    }
}

/// `y[M, wRows] = x[M, n] · Wᵀ + bias`, or `y += …` when `adding`, for float32 W stored [wRows, n]
/// (the LM head against `wte`, the blocks' products on transposed resident weights), then
/// `activation` if given: up to 16 rows by the row dots above, which add the bias as they store
/// each dot (a single row by OpenBLAS's sgemv in debug builds), more by sgemm.
func multiplyByTransposed(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>, wRows: Int, n: Int,
                          into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, adding: Bool,
                          then activation: Activation? = nil) {
    if rowDotsTake(rows: M) {
        return smallBatchRowDots(x, rows: M, UnsafeRawPointer(w), Float32Format.self, wRows: wRows, n: n,
                                 into: DenseRows(y: y, wRows: wRows), bias: bias, adding: adding, then: activation)
    }
    if let bias { startRows(y, from: bias, rows: M, n: wRows, adding: adding) }
    let beta: Float = adding || bias != nil ? 1 : 0
    if M == 1 {
        BLAS.gemv(m: wRows, n: n, a: w, lda: n, x: x, beta: beta, y: y)
    } else {
        BLAS.gemm(transB: true, m: M, n: wRows, k: n, a: x, lda: n, b: w, ldb: n, beta: beta, c: y, ldc: wRows)
    }
    if let activation { activate(y, count: M * wRows, activation) }
}

/// How ``smallBatchRowDots(_:rows:_:_:wRows:n:into:bias:adding:then:)`` shares out W's rows: shrinking chunks
/// of at least 64 KB (each row is a whole dot product, so no chunk needs a partial sum).
func rowDotChunks(wRows: Int, n: Int, elementSize: Int) -> [Range<Int>] {
    shrinkingChunks(wRows, parts: min(parallelism, wRows / 64), minimum: max(16, 65_536 / (n * elementSize)))
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

/// The sum of eight lanes by halving: `SIMD8.sum()` compiles to a slow lane-by-lane loop.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}
