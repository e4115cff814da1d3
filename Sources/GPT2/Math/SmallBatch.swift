// Matrix products for decode: a few rows (one new token of each of 1–16 sequences) against a
// large weight matrix. OpenBLAS's sgemm packs the whole weight matrix for such shapes and streams
// it at a fraction of the memory bandwidth, and its sgemv splits the output columns between
// threads (each thread reads part of every row); these kernels give each thread a contiguous
// range of whole rows, read once, front to back, with the few multiply-adds per weight in registers.

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
/// The threads split the input rows: each streams whole contiguous rows of W, four at a time, into
/// its own [M, out] accumulator (the first thread's is `y` itself); the others are added at the end.
func smallBatchAccumulate(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>,
                          inputSize: Int, outputSize: Int, into y: UnsafeMutablePointer<Float>) {
    smallBatchAccumulate(x, rows: M, UnsafeRawPointer(w), Float32Format.self, inputSize: inputSize, outputSize: outputSize, into: y)
}

func smallBatchAccumulate<F: WeightFormat>(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type,
                                           inputSize: Int, outputSize: Int, into y: UnsafeMutablePointer<Float>) {
    let parts = max(1, min(kernelThreadCount.value, inputSize / 64))
    let rowsPerPart = ((inputSize + parts - 1) / parts + 3) / 4 * 4
    let extra = UnsafeMutablePointer<Float>.allocate(capacity: (parts - 1) * M * outputSize)
    defer { extra.deallocate() }
    parallelRanges(parts, minimumPerPart: 1) { partRange in
        for part in partRange {
            let accumulator = part == 0 ? y : extra + (part - 1) * M * outputSize
            if part > 0 { accumulator.initialize(repeating: 0, count: M * outputSize) }
            let rows = (part * rowsPerPart)..<min(inputSize, (part + 1) * rowsPerPart)
            accumulateRows(x, M: M, w, F.self, inputSize: inputSize, outputSize: outputSize, rows: rows, into: accumulator)
        }
    }
    for part in 1..<parts {
        let partial = extra + (part - 1) * M * outputSize
        for k in 0..<(M * outputSize) { y[k] += partial[k] }
    }
}

/// acc[m, :] += Σ_{i in rows} x[m, i] · W[i, :], four rows of W per pass, in column tiles small
/// enough that the tile of four rows stays in L1 while every m uses it.
@inline(__always)
private func accumulateRows<F: WeightFormat>(_ x: UnsafePointer<Float>, M: Int, _ w: UnsafeRawPointer, _ format: F.Type,
                                             inputSize: Int, outputSize: Int,
                                             rows: Range<Int>, into acc: UnsafeMutablePointer<Float>) {
    let tile = 512
    let stride = outputSize * F.size  // bytes per row of W
    var i = rows.lowerBound
    while i + 4 <= rows.upperBound {
        let w0 = w + i * stride
        for tileStart in Swift.stride(from: 0, to: outputSize, by: tile) {
            let tileEnd = min(outputSize, tileStart + tile)
            let vectorEnd = tileStart + (tileEnd - tileStart) / 8 * 8
            for m in 0..<M {
                let xm = x + m * inputSize + i
                let s0 = SIMD8<Float>(repeating: xm[0]), s1 = SIMD8<Float>(repeating: xm[1])
                let s2 = SIMD8<Float>(repeating: xm[2]), s3 = SIMD8<Float>(repeating: xm[3])
                let out = UnsafeMutableRawPointer(acc + m * outputSize)
                var c = tileStart
                while c < vectorEnd {
                    let offset = c * F.size
                    var sum = out.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                    sum += s0 * F.load8(w0, byteOffset: offset)
                    sum += s1 * F.load8(w0, byteOffset: offset + stride)
                    sum += s2 * F.load8(w0, byteOffset: offset + 2 * stride)
                    sum += s3 * F.load8(w0, byteOffset: offset + 3 * stride)
                    out.storeBytes(of: sum, toByteOffset: c * 4, as: SIMD8<Float>.self)
                    c += 8
                }
                for c in vectorEnd..<tileEnd {
                    acc[m * outputSize + c] += xm[0] * F.load(w0, index: c) + xm[1] * F.load(w0, index: outputSize + c)
                        + xm[2] * F.load(w0, index: 2 * outputSize + c) + xm[3] * F.load(w0, index: 3 * outputSize + c)
                }
            }
        }
        i += 4
    }
    while i < rows.upperBound {
        let row = w + i * stride
        for m in 0..<M {
            for c in 0..<outputSize { acc[m * outputSize + c] += x[m * inputSize + i] * F.load(row, index: c) }
        }
        i += 1
    }
}

/// `y[M, rows] = x[M, n] · Wᵀ` for W stored [rows, n] row-major (the LM head against `wte`).
/// The threads split W's rows; each row is read once and dotted with every x, four at a time.
func smallBatchRowDots(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>, wRows: Int, n: Int,
                       into y: UnsafeMutablePointer<Float>) {
    smallBatchRowDots(x, rows: M, UnsafeRawPointer(w), Float32Format.self, wRows: wRows, n: n, into: y)
}

func smallBatchRowDots<F: WeightFormat>(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafeRawPointer, _ format: F.Type,
                                        wRows: Int, n: Int, into y: UnsafeMutablePointer<Float>) {
    parallelRanges(wRows, minimumPerPart: 1024) { range in
        for r in range {
            let row = w + r * n * F.size
            var m = 0
            while m + 4 <= M {
                let (a, b, c, d) = dot4(row, F.self, x + m * n, x + (m + 1) * n, x + (m + 2) * n, x + (m + 3) * n, n)
                y[m * wRows + r] = a
                y[(m + 1) * wRows + r] = b
                y[(m + 2) * wRows + r] = c
                y[(m + 3) * wRows + r] = d
                m += 4
            }
            while m < M {
                y[m * wRows + r] = dot(row, F.self, x + m * n, n)
                m += 1
            }
        }
    }
}

/// w · a, w · b, w · c, w · d over `n` elements, loading each lane of `w` once.
@inline(__always)
private func dot4<F: WeightFormat>(_ w: UnsafeRawPointer, _ format: F.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                   _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    var sa = SIMD8<Float>(), sb = SIMD8<Float>(), sc = SIMD8<Float>(), sd = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), rc = UnsafeRawPointer(c), rd = UnsafeRawPointer(d)
    var i = 0
    while i + 8 <= n {
        let lane = F.load8(w, byteOffset: i * F.size)
        sa += lane * ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sb += lane * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sc += lane * rc.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sd += lane * rd.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    var result = (horizontalSum(sa), horizontalSum(sb), horizontalSum(sc), horizontalSum(sd))
    while i < n {
        let value = F.load(w, index: i)
        result.0 += value * a[i]
        result.1 += value * b[i]
        result.2 += value * c[i]
        result.3 += value * d[i]
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
    while i + 16 <= n {
        sum0 += F.load8(w, byteOffset: i * F.size) * rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sum1 += F.load8(w, byteOffset: (i + 8) * F.size) * rx.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
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
