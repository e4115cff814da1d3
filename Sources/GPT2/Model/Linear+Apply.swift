extension Linear {
    /// `out[rows, out] = x[rows, in] · weight + bias`, or `out += …` when `accumulate` is set
    /// (how the residual additions after `c_proj` avoid a temporary); then `activation`, if given,
    /// on every element of `out` (`c_fc`'s, fused into the product where the kernel allows).
    /// Up to 16 rows (decode: one new token per sequence) go through the small-batch kernels, which
    /// stream the weights once at close to memory bandwidth (faster than OpenBLAS's sgemv, and
    /// much faster than its sgemm for so few rows): row dots on transposed weights, else
    /// accumulated rows. More rows go through sgemm.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool = false,
               then activation: Activation? = nil) {
        if case .float32(let weight) = weight, transposed {  // W stored [out, in]
            // the row dots add the bias and apply the activation as they go
            return multiplyByTransposed(x, rows: rows, weight, wRows: outputSize, n: inputSize, into: out,
                                        bias: bias, adding: accumulate, then: activation)
        }
        startRows(out, from: bias, rows: rows, n: outputSize, adding: accumulate)
        switch weight {
        case .float32(let weight):
            if rows == 1 && singleRowThroughBLAS {
                // y[out] += Wᵀ x, with W stored [in, out]
                BLAS.gemv(trans: true, m: inputSize, n: outputSize, a: weight, lda: outputSize, x: x, beta: 1, y: out)
            } else if rows <= smallBatchLimit {
                smallBatchAccumulate(x, rows: rows, weight, inputSize: inputSize, outputSize: outputSize, into: out)
            } else {
                BLAS.gemm(m: rows, n: outputSize, k: inputSize, a: x, lda: inputSize,
                          b: weight, ldb: outputSize, beta: 1, c: out, ldc: outputSize)
            }
        case .float16(let weight):
            if rows <= smallBatchLimit {
                smallBatchAccumulate(x, rows: rows, UnsafeRawPointer(weight), Float16Format.self,
                                     inputSize: inputSize, outputSize: outputSize, into: out)
            } else {  // a prompt: widen the matrix once for this product, then sgemm at full speed
                withFloats(fromHalves: weight, count: inputSize * outputSize) { weight in
                    BLAS.gemm(m: rows, n: outputSize, k: inputSize, a: x, lda: inputSize,
                              b: weight, ldb: outputSize, beta: 1, c: out, ldc: outputSize)
                }
            }
        }
        if let activation { activate(out, count: rows * outputSize, activation) }
    }
}

extension LayerNormWeights {
    /// LayerNorm of each of `rows` rows of width `n`.
    func apply(_ x: UnsafePointer<Float>, rows: Int, n: Int, epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        layerNorm(x, out, rows: rows, n: n, weight: weight, bias: bias, epsilon: epsilon)
    }
}
