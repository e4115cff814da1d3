// The engine's one matrix product. It picks the kernel by the number of rows and by how the
// weights are stored:
//
//   rows ≤ 16 (decode: one new token per sequence)   the Swift row kernels, which stream the
//       weights once at close to the memory's rate: row dots for [out, in] weights, accumulated
//       rows for [in, out] weights; float16 weights widened as they are read, int8 ones
//       multiplied as integers with x rounded to int16 (Int8.swift).
//   more rows (a prompt)                             OpenBLAS sgemm; float16 and int8 weights
//       widened to float32 a block at a time by each thread, for its share of the outputs.

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
    if case .int8 = w.elements { precondition(w.layout == .outputMajor, "int8 matrices are stored output-major") }

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
            let inputs = Int16Rows(x, rows: M, rowLength: n)
            defer { inputs.deallocate() }
            return rowDots(rows: M, Int8Rows(q: q, scales: scales, rowLength: n, x: inputs), outputs: outputs,
                           into: y, bias: bias, adding: adding, then: activation)
        }
    } else {
        if let bias { y.start(rows: M, from: bias, adding: adding) }
        let beta: Float = adding || bias != nil ? 1 : 0
        if case .float32(let p) = w.elements {  // sgemm on every thread, as it is
            gemm(x, lda: n, rows: M, inputs: n, p, ldb: w.layout == .inputMajor ? outputs : n, transB: w.layout == .outputMajor,
                 columns: 0..<outputs, into: y, beta: beta, serial: false)
        } else {
            widenedGemm(x, rows: M, w, into: y, beta: beta)
        }
    }
    if let activation { activate(y, rows: M, activation) }
}

/// A prompt's product with float16 or int8 weights, which sgemm cannot read. Each thread takes a
/// share of the outputs and widens its share of the matrix, a block of inputs at a time, into a
/// buffer of its own; sgemm adds that block's products to y while the block is still in cache.
/// So no matrix is ever whole in float32 (four times an int8 matrix's bytes), and each thread's
/// sgemm packs only its own outputs.
private func widenedGemm<D: MatmulDestination>(_ x: UnsafePointer<Float>, rows M: Int, _ w: Matrix, into y: D, beta: Float) {
    let (n, outputs) = (w.inputSize, w.outputSize)
    guard n > 0 else {  // no inputs: y is its bias, or as it was, or zeros
        if beta == 0 { startOutputs(y, rows: M, bias: nil, adding: false) }
        return
    }
    let blockInputs = min(n, widenedBlockInputs)
    parallelRanges((outputs + 63) / 64, minimumPerPart: 1) { groups in
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: blockInputs * min(widenedBlockOutputs, 64 * groups.count))
        defer { floats.deallocate() }
        for firstOutput in stride(from: 64 * groups.lowerBound, to: min(outputs, 64 * groups.upperBound), by: widenedBlockOutputs) {
            let columns = firstOutput..<min(outputs, 64 * groups.upperBound, firstOutput + widenedBlockOutputs)
            for first in stride(from: 0, to: n, by: blockInputs) {
                let inputs = first..<min(n, first + blockInputs)
                let ldb = widen(w, inputs: inputs, outputs: columns, into: floats)
                gemm(x + first, lda: n, rows: M, inputs: inputs.count, floats, ldb: ldb, transB: w.layout == .outputMajor,
                     columns: columns, into: y, beta: first == 0 ? beta : 1, serial: true)
            }
        }
    }
}

/// Inputs and outputs per block of ``widenedGemm``, the inputs whole blocks of int8 scales.
/// Smaller blocks cost sgemm time (it reads and writes y once per block of inputs, and packs x once
/// per block); larger ones, memory: each thread's widened block and sgemm's copy of it, which
/// a prompt's peak holds beside its activations (Benchmarks/README.md).
private let (widenedBlockInputs, widenedBlockOutputs) = (4 * int8BlockSize, 512)

/// The weights of `w` for `inputs` × `outputs` as float32 in `floats`, laid out as the matrix is:
/// [inputs, outputs] for `.inputMajor`, [outputs, inputs] for `.outputMajor`. Returns the row length.
private func widen(_ w: Matrix, inputs: Range<Int>, outputs: Range<Int>, into floats: UnsafeMutablePointer<Float>) -> Int {
    let n = w.inputSize
    switch (w.elements, w.layout) {
    case (.float16(let h, let scale), .inputMajor):
        for k in inputs {
            widenHalves(h + k * w.outputSize + outputs.lowerBound, count: outputs.count, scale: scale,
                        into: floats + (k - inputs.lowerBound) * outputs.count)
        }
        return outputs.count
    case (.float16(let h, let scale), .outputMajor):
        for o in outputs {
            widenHalves(h + o * n + inputs.lowerBound, count: inputs.count, scale: scale,
                        into: floats + (o - outputs.lowerBound) * inputs.count)
        }
        return inputs.count
    case (.int8(let q, let scales), _):  // output-major
        let blocks = int8Blocks(rowLength: n)
        for o in outputs {
            dequantizeRow(q + o * n + inputs.lowerBound, scales: scales + o * blocks + inputs.lowerBound / int8BlockSize,
                          count: inputs.count, into: floats + (o - outputs.lowerBound) * inputs.count)
        }
        return inputs.count
    case (.float32, _):
        preconditionFailure("float32 weights go to sgemm as they are")
    }
}

/// `y[:, columns] = x[:, 0..<inputs] · B + beta · y[:, columns]`, one sgemm per part of `y` and
/// run of its rows, on the calling thread when `serial`, else split across the threads
/// (``BLAS/gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``); `b` holds B as
/// [inputs, columns], or [columns, inputs] when `transB`, with rows `ldb` apart.
private func gemm<D: MatmulDestination>(_ x: UnsafePointer<Float>, lda: Int, rows M: Int, inputs k: Int,
                                        _ b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                                        columns: Range<Int>, into y: D, beta: Float, serial: Bool) {
    for p in 0..<y.parts {
        let partStart = p * y.partWidth
        let (lower, upper) = (max(columns.lowerBound, partStart), min(columns.upperBound, partStart + y.partWidth))
        guard lower < upper else { continue }
        let b = transB ? b + (lower - columns.lowerBound) * ldb : b + (lower - columns.lowerBound)
        y.forEachRun(of: p, rows: 0..<M) { first, count, start in
            let (a, c) = (x + first * lda, start + (lower - partStart))
            if serial {
                BLAS.serialGemm(transB: transB, m: count, n: upper - lower, k: k, a: a, lda: lda, b: b, ldb: ldb,
                                beta: beta, c: c, ldc: y.rowStride)
            } else {
                BLAS.gemm(transB: transB, m: count, n: upper - lower, k: k, a: a, lda: lda, b: b, ldb: ldb,
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
