import GPT2Kernels

// The layers' calls into the kernels, each timed under the layer's own name when profiling.

extension Linear {
    /// `out[rows, out] = x[rows, in] · weight + bias`, or `out += …` when `accumulate` (how the
    /// residual additions after `c_proj` avoid a temporary); then `activation` on every output
    /// (fused into the product where the kernel allows).
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
                        accumulate: Bool = false, then activation: Activation? = nil) {
        KernelProfile.measure(name) {
            matmul(x, rows: rows, weight, bias: bias, into: DenseRows(out, width: outputSize), adding: accumulate,
                   then: activation?.function)
        }
    }

    /// The same into columns split into parts that live apart: `c_attn` writes keys and values
    /// straight into the caches.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: SplitRows) {
        KernelProfile.measure(name) { matmul(x, rows: rows, weight, bias: bias, into: out) }
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
