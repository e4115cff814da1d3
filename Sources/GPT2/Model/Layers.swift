import GPT2Kernels

// The layers' calls into the kernels, each timed under the layer's own name when profiling.

/// The rows of a forward pass's matrices, in the groups the products take them: the rows of
/// consecutive sequences with one new row each (decode steps) together, up to the row kernels'
/// limit; every sequence with more rows alone. A row's group thus depends only on its own
/// sequence, never on the company it keeps, and so does the kernel that computes it.
struct RowGroups {
    let ranges: [Range<Int>]
    let rowCount: Int

    /// Groups for sequences with `rowCounts` rows each, in order (sequences with none are skipped).
    init(rowCounts: [Int]) {
        var ranges: [Range<Int>] = []
        var start = 0
        var lastIsSingles = false  // the last group holds one row of each of its sequences
        for count in rowCounts where count > 0 {
            if count == 1, lastIsSingles, let last = ranges.last, last.count < rowKernelLimit {
                ranges[ranges.count - 1] = last.lowerBound..<(start + 1)
            } else {
                ranges.append(start..<(start + count))
                lastIsSingles = count == 1
            }
            start += count
        }
        self.ranges = ranges
        rowCount = start
    }
}

extension Linear {
    /// `out[rows, out] = x[rows, in] · weight + bias`, or `out += …` when `accumulate` (how the
    /// residual additions after `c_proj` avoid a temporary); then `activation` on every output
    /// (fused into the product where the kernel allows).
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
                        accumulate: Bool = false, then activation: Activation? = nil) {
        self(x, rows: RowGroups(rowCounts: [rows]), into: out, accumulate: accumulate, then: activation)
    }

    /// The same, one product per group of rows (see ``RowGroups``).
    func callAsFunction(_ x: UnsafePointer<Float>, rows groups: RowGroups, into out: UnsafeMutablePointer<Float>,
                        accumulate: Bool = false, then activation: Activation? = nil) {
        KernelProfile.measure(name) {
            for rows in groups.ranges {
                matmul(x + rows.lowerBound * inputSize, rows: rows.count, weight, bias: bias,
                       into: DenseRows(out + rows.lowerBound * outputSize, width: outputSize), adding: accumulate,
                       then: activation?.function)
            }
        }
    }

    /// `c_attn`: the first third of each output row into `q` ([N, out/3]), the second into the
    /// row `keys[r]` points at, the last into `values[r]` (each sequence's next cache rows).
    func callAsFunction(_ x: UnsafePointer<Float>, rows groups: RowGroups, into q: UnsafeMutablePointer<Float>,
                        keys: [UnsafeMutablePointer<Float>], values: [UnsafeMutablePointer<Float>]) {
        let width = outputSize / 3
        KernelProfile.measure(name) {
            for rows in groups.ranges {
                // row pointers [3, rows]: queries, keys, values
                let pointers = rows.map { q + $0 * width } + keys[rows] + values[rows]
                pointers.withUnsafeBufferPointer { pointers in
                    matmul(x + rows.lowerBound * inputSize, rows: rows.count, weight, bias: bias,
                           into: SplitRows(rows: pointers.baseAddress!, rowCount: rows.count, parts: 3, partWidth: width, rowStride: width))
                }
            }
        }
    }
}

extension LayerNormWeights {
    /// LayerNorm of each of `rows` rows of width `n`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, n: Int, epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        KernelProfile.measure(name) {
            layerNorm(x, out, rows: rows, n: n, weight: weight, bias: bias, epsilon: epsilon)
        }
    }
}

extension Activation {
    /// The kernels' implementation of this activation.
    var function: ActivationFunction {
        switch self {
        case .geluNew: .geluNew
        case .gelu: .gelu
        case .relu: .relu
        }
    }
}
