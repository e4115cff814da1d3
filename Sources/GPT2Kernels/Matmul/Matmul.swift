// The engine's one matrix product. It picks the kernel by the number of rows and by how the
// weights are stored:
//
//   rows ≤ 16 (decode: one new token per sequence)   the Swift row kernels, which stream the
//       weights once at close to the memory's rate: row dots for [out, in] weights, accumulated
//       rows for [in, out] weights; float16 weights widened as they are read, int8 ones
//       multiplied as integers with x rounded to int16 (Int8.swift).
//   more rows (a prompt)                             OpenBLAS sgemm; float16 and int8 weights
//       widened to float32 first (the whole matrix, or 4096 output rows at a time for [out, in]).

/// Most rows the row kernels take; more go to sgemm, which then runs at full speed.
package let rowKernelLimit = 16

/// `y = x · W + bias` for the `M` rows of `x` ([M, in]), or `y += …` when `adding`; then
/// `activation`, if given, on every output. `bias` is `[out]` or nil.
package func matmul(_ x: UnsafePointer<Float>, rows M: Int, _ w: Matrix, bias: UnsafePointer<Float>? = nil,
                    into y: DenseRows, adding: Bool = false, then activation: ActivationFunction? = nil) {
    product(x, rows: M, w, bias: bias, into: y, adding: adding, then: activation)
}

/// The same into a destination whose columns are split into parts that live in different places,
/// so that a product can write keys and values straight into a cache.
package func matmul(_ x: UnsafePointer<Float>, rows M: Int, _ w: Matrix, bias: UnsafePointer<Float>? = nil,
                    into y: SplitRows, adding: Bool = false, then activation: ActivationFunction? = nil) {
    product(x, rows: M, w, bias: bias, into: y, adding: adding, then: activation)
}

/// Both `matmul`s: generic over the destination, and specialized for each here, inside the
/// kernels' module (a generic entry point called from another module would run unspecialized,
/// through witness tables in the innermost loops).
private func product<D: MatmulDestination>(
    _ x: UnsafePointer<Float>, rows M: Int, _ w: Matrix, bias: UnsafePointer<Float>?,
    into y: D, adding: Bool, then activation: ActivationFunction?
) {
    precondition(y.parts * y.partWidth == w.outputSize, "the destination's columns must match the matrix's outputs")
    guard M > 0 else { return }
    let (n, outputs) = (w.inputSize, w.outputSize)

    if M <= rowKernelLimit, let inputs = DecodeInputs(x, count: M * n, for: w) {
        defer { inputs.release() }
        let x = inputs.x
        switch (w.elements, w.layout) {
        case (.float32(let p), .outputMajor):
            return rowDots(x, rows: M, UnsafeRawPointer(p), Float32Format.self, outputs: outputs, inputs: n,
                           into: y, bias: bias, adding: adding, then: activation)
        case (.float16(let p, _), .outputMajor):
            return rowDots(x, rows: M, UnsafeRawPointer(p), Float16Format.self, outputs: outputs, inputs: n,
                           into: y, bias: bias, adding: adding, then: activation)
        case (.float32(let p), .inputMajor):
            startOutputs(y, rows: M, bias: bias, adding: adding)
            accumulateRows(x, rows: M, UnsafeRawPointer(p), Float32Format.self, inputs: n, outputs: outputs, into: y)
        case (.float16(let p, _), .inputMajor):
            startOutputs(y, rows: M, bias: bias, adding: adding)
            accumulateRows(x, rows: M, UnsafeRawPointer(p), Float16Format.self, inputs: n, outputs: outputs, into: y)
        case (.int8(let q, let scales), _):
            precondition(w.layout == .outputMajor, "int8 matrices are stored output-major")
            let inputs = Int16Rows(x, rows: M, rowLength: n)
            defer { inputs.deallocate() }
            return rowDots(rows: M, Int8Rows(q: q, scales: scales, rowLength: n, x: inputs), outputs: outputs,
                           into: y, bias: bias, adding: adding, then: activation)
        }
    } else {
        if let bias { y.start(rows: M, from: bias, adding: adding) }
        let beta: Float = adding || bias != nil ? 1 : 0
        switch (w.elements, w.layout) {
        case (.float32(let p), _):
            gemm(x, rows: M, p, w, columns: 0..<outputs, into: y, beta: beta)
        case (.float16(let h, let scale), .inputMajor):  // widen the matrix once for this product, then sgemm at full speed
            withFloats(fromHalves: h, count: n * outputs, scale: scale) { p in
                gemm(x, rows: M, p, w, columns: 0..<outputs, into: y, beta: beta)
            }
        case (.float16(let h, let scale), .outputMajor):  // a vocabulary-sized table: widened a block of rows at a time
            for first in stride(from: 0, to: outputs, by: 4096) {
                let columns = first..<min(outputs, first + 4096)
                withFloats(fromHalves: h + first * n, count: columns.count * n, scale: scale) { p in
                    gemm(x, rows: M, p, w, columns: columns, into: y, beta: beta)
                }
            }
        case (.int8(let q, let scales), _):  // dequantized a block of rows at a time, as above
            precondition(w.layout == .outputMajor, "int8 matrices are stored output-major")
            for first in stride(from: 0, to: outputs, by: 4096) {
                let columns = first..<min(outputs, first + 4096)
                withFloats(fromInt8: q, scales: scales, rowLength: n, rows: columns) { p in
                    gemm(x, rows: M, p, w, columns: columns, into: y, beta: beta)
                }
            }
        }
    }
    if let activation { activate(y, rows: M, activation) }
}

/// `y[:, columns] = x · W[:, columns] + beta · y[:, columns]` through sgemm, where `w` points at
/// the float32 weights of output `columns.lowerBound` (for `.inputMajor`, the matrix's start plus
/// that column; for `.outputMajor`, its row). One call per part of `y` and run of evenly spaced rows.
private func gemm<D: MatmulDestination>(_ x: UnsafePointer<Float>, rows M: Int, _ w: UnsafePointer<Float>, _ matrix: Matrix,
                                        columns: Range<Int>, into y: D, beta: Float) {
    let (n, outputs) = (matrix.inputSize, matrix.outputSize)
    for p in 0..<y.parts {
        let partStart = p * y.partWidth
        let part = max(columns.lowerBound, partStart)..<min(columns.upperBound, partStart + y.partWidth)
        guard !part.isEmpty else { continue }
        let offset = part.lowerBound - columns.lowerBound  // in outputs, from `w`
        y.forEachRun(of: p, rows: 0..<M) { first, count, start in
            let c = start + (part.lowerBound - partStart)
            switch matrix.layout {
            case .inputMajor:   // B = W[:, part], [n, outputs] row-major
                BLAS.gemm(m: count, n: part.count, k: n, a: x + first * n, lda: n, b: w + offset, ldb: outputs,
                          beta: beta, c: c, ldc: y.rowStride)
            case .outputMajor:  // B = W[part, :]ᵀ
                BLAS.gemm(transB: true, m: count, n: part.count, k: n, a: x + first * n, lda: n, b: w + offset * n, ldb: n,
                          beta: beta, c: c, ldc: y.rowStride)
            }
        }
    }
}

/// x as the decode kernels take it for `w`: as it is, or, for float16 weights, multiplied by
/// ``Float16Format/inputScale`` and the matrix's scale (exactly: powers of two), so that the
/// products come out as x · W. Nil when that would overflow (|x| beyond about 2¹⁶ to 2²⁶): then
/// the product goes through sgemm, which takes x as it is.
private struct DecodeInputs {
    let x: UnsafePointer<Float>
    private let scaled: UnsafeMutablePointer<Float>?

    init?(_ x: UnsafePointer<Float>, count: Int, for w: Matrix) {
        guard case .float16(_, let scale) = w.elements, Float16Format.inputScale * scale != 1 else {
            (self.x, scaled) = (x, nil)
            return
        }
        let factor = Float16Format.inputScale * scale
        let scaled = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let source = UnsafeRawPointer(x), destination = UnsafeMutableRawPointer(scaled), vectors = count / 8
        var largest = SIMD8<UInt32>()  // of the magnitudes' bit patterns, which order as the magnitudes do
        for v in 0..<vectors {
            let vector = source.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self) * factor
            destination.storeBytes(of: vector, toByteOffset: 32 * v, as: SIMD8<Float>.self)
            largest = pointwiseMax(largest, unsafeBitCast(vector, to: SIMD8<UInt32>.self) & 0x7fff_ffff)
        }
        var top = Float(bitPattern: largest.max())
        for i in (8 * vectors)..<count {
            scaled[i] = x[i] * factor
            top = max(top, abs(scaled[i]))
        }
        guard top.isFinite else {  // overflowed (or NaN): sgemm gives what float32 does
            scaled.deallocate()
            return nil
        }
        (self.x, self.scaled) = (UnsafePointer(scaled), scaled)
    }

    func release() { scaled?.deallocate() }
}

/// Where the accumulating kernel starts: the bias in every output row (added to what is there
/// when `adding`), or zeros.
private func startOutputs<D: MatmulDestination>(_ y: D, rows M: Int, bias: UnsafePointer<Float>?, adding: Bool) {
    if let bias {
        y.start(rows: M, from: bias, adding: adding)
    } else if !adding {
        for p in 0..<y.parts { for m in 0..<M { y.row(m, part: p).update(repeating: 0, count: y.partWidth) } }
    }
}

/// `activation` on every output; in parallel when the rows are one dense block.
private func activate<D: MatmulDestination>(_ y: D, rows M: Int, _ activation: ActivationFunction) {
    if y.parts == 1 && y.rowStride == y.partWidth {
        return activate(y.row(0, part: 0), count: M * y.partWidth, activation)
    }
    for m in 0..<M { y.activate(m, 0..<(y.parts * y.partWidth), activation) }
}
