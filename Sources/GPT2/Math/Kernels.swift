import Foundation

// Element-wise and row-wise kernels of the forward pass. All work on raw row-major buffers so the
// hot loops compile to plain vectorisable code with no array bounds checks or copies.

/// `out[r] = (x[r] - mean) / sqrt(var + eps) · weight + bias` for each of `rows` rows of width `n`.
func layerNorm(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, n: Int,
               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
    for r in 0..<rows {
        let row = x + r * n
        let dst = out + r * n
        var sum: Float = 0
        for i in 0..<n { sum += row[i] }
        let mean = sum / Float(n)
        var squares: Float = 0
        for i in 0..<n {
            let d = row[i] - mean
            squares += d * d
        }
        let inverseStd = 1 / (squares / Float(n) + epsilon).squareRoot()
        for i in 0..<n {
            dst[i] = (row[i] - mean) * inverseStd * weight[i] + bias[i]
        }
    }
}

/// Applies the MLP activation in place to `count` values.
func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
    switch activation {
    case .geluNew:
        // 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), rewritten as x / (1 + e^(-2u))
        // since 1 + tanh(u) = 2 / (1 + e^(-2u)); one vectorisable exp instead of a libm tanh
        let c: Float = 2 * 0.7978845608028654
        for i in 0..<count {
            let v = x[i]
            x[i] = v / (1 + fastExp(-c * (v + 0.044715 * v * v * v)))
        }
    case .gelu:
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erff(v * 0.7071067811865476))
        }
    case .relu:
        for i in 0..<count { x[i] = max(x[i], 0) }
    }
}

/// Replaces `x[0..<n]` by its softmax.
func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var maximum = -Float.infinity
    for i in 0..<n { maximum = max(maximum, x[i]) }
    var sum: Float = 0
    for i in 0..<n {
        let e = fastExp(x[i] - maximum)
        x[i] = e
        sum += e
    }
    let inverse = 1 / sum
    for i in 0..<n { x[i] *= inverse }
}

/// Copies `bias[0..<n]` into each of `rows` rows of `out`.
func broadcastRows(_ bias: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    for r in 0..<rows { (out + r * n).update(from: bias, count: n) }
}

/// Adds `bias[0..<n]` to each of `rows` rows of `out`.
func addRows(_ bias: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    for r in 0..<rows {
        let dst = out + r * n
        for i in 0..<n { dst[i] += bias[i] }
    }
}
