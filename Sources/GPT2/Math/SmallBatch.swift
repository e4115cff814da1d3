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

/// `y[M, out] += x[M, in] · W` for W stored [in, out] row-major (GPT-2's Conv1D layout).
/// The threads split the input rows: each streams whole contiguous rows of W, four at a time, into
/// its own [M, out] accumulator (the first thread's is `y` itself); the others are added at the end.
func smallBatchAccumulate(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>,
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
            accumulateRows(x, M: M, w, inputSize: inputSize, outputSize: outputSize, rows: rows, into: accumulator)
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
private func accumulateRows(_ x: UnsafePointer<Float>, M: Int, _ w: UnsafePointer<Float>, inputSize: Int, outputSize: Int,
                            rows: Range<Int>, into acc: UnsafeMutablePointer<Float>) {
    let tile = 512
    let stride = outputSize * 4  // bytes per row of W
    var i = rows.lowerBound
    while i + 4 <= rows.upperBound {
        let w0 = UnsafeRawPointer(w + i * outputSize)
        for tileStart in Swift.stride(from: 0, to: outputSize, by: tile) {
            let tileEnd = min(outputSize, tileStart + tile)
            let vectorEnd = tileStart + (tileEnd - tileStart) / 8 * 8
            for m in 0..<M {
                let xm = x + m * inputSize + i
                let s0 = SIMD8<Float>(repeating: xm[0]), s1 = SIMD8<Float>(repeating: xm[1])
                let s2 = SIMD8<Float>(repeating: xm[2]), s3 = SIMD8<Float>(repeating: xm[3])
                let out = UnsafeMutableRawPointer(acc + m * outputSize)
                var offset = tileStart * 4
                while offset < vectorEnd * 4 {
                    var sum = out.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    sum += s0 * w0.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    sum += s1 * w0.loadUnaligned(fromByteOffset: offset + stride, as: SIMD8<Float>.self)
                    sum += s2 * w0.loadUnaligned(fromByteOffset: offset + 2 * stride, as: SIMD8<Float>.self)
                    sum += s3 * w0.loadUnaligned(fromByteOffset: offset + 3 * stride, as: SIMD8<Float>.self)
                    out.storeBytes(of: sum, toByteOffset: offset, as: SIMD8<Float>.self)
                    offset += 32
                }
                for c in vectorEnd..<tileEnd {
                    acc[m * outputSize + c] += xm[0] * w[i * outputSize + c] + xm[1] * w[(i + 1) * outputSize + c]
                        + xm[2] * w[(i + 2) * outputSize + c] + xm[3] * w[(i + 3) * outputSize + c]
                }
            }
        }
        i += 4
    }
    while i < rows.upperBound {
        for m in 0..<M {
            for c in 0..<outputSize { acc[m * outputSize + c] += x[m * inputSize + i] * w[i * outputSize + c] }
        }
        i += 1
    }
}

/// `y[M, rows] = x[M, n] · Wᵀ` for W stored [rows, n] row-major (the LM head against `wte`).
/// The threads split W's rows; each row is read once and dotted with every x, four at a time.
func smallBatchRowDots(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>, wRows: Int, n: Int,
                       into y: UnsafeMutablePointer<Float>) {
    parallelRanges(wRows, minimumPerPart: 1024) { range in
        for r in range {
            let row = w + r * n
            var m = 0
            while m + 4 <= M {
                let (a, b, c, d) = dot4(row, x + m * n, x + (m + 1) * n, x + (m + 2) * n, x + (m + 3) * n, n)
                y[m * wRows + r] = a
                y[(m + 1) * wRows + r] = b
                y[(m + 2) * wRows + r] = c
                y[(m + 3) * wRows + r] = d
                m += 4
            }
            while m < M {
                y[m * wRows + r] = dot(row, x + m * n, n)
                m += 1
            }
        }
    }
}

/// w · a, w · b, w · c, w · d over `n` floats, loading each lane of `w` once.
@inline(__always)
private func dot4(_ w: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                  _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    var sa = SIMD8<Float>(), sb = SIMD8<Float>(), sc = SIMD8<Float>(), sd = SIMD8<Float>()
    let rw = UnsafeRawPointer(w), ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    let rc = UnsafeRawPointer(c), rd = UnsafeRawPointer(d)
    var i = 0
    while i + 8 <= n {
        let lane = rw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sa += lane * ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sb += lane * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sc += lane * rc.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        sd += lane * rd.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    var result = (horizontalSum(sa), horizontalSum(sb), horizontalSum(sc), horizontalSum(sd))
    while i < n {
        result.0 += w[i] * a[i]
        result.1 += w[i] * b[i]
        result.2 += w[i] * c[i]
        result.3 += w[i] * d[i]
        i += 1
    }
    return result
}

/// The sum of eight lanes by halving: `SIMD8.sum()` compiles to a slow lane-by-lane loop.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}
