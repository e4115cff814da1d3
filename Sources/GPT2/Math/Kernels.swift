import Foundation

// Element-wise and row-wise kernels of the forward pass. All work on raw row-major buffers so the
// hot loops compile to plain vectorisable code with no array bounds checks or copies.

/// `out[r] = (x[r] - mean) / sqrt(var + eps) · weight + bias` for each of `rows` rows of width `n`.
func layerNorm(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, n: Int,
               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
    parallelRanges(rows, minimumPerPart: max(1, 32_768 / n)) { rows in
        for r in rows { layerNormRow(x + r * n, out + r * n, n: n, weight: weight, bias: bias, epsilon: epsilon) }
    }
}

@inline(__always)
private func layerNormRow(_ row: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
    // the two reductions eight lanes at a time: a float sum written as one loop would not
    // vectorise, and n dependent additions cost a microsecond per 768-wide row
    let mean = sumElements(row, count: n) / Float(n)
    let inverseStd = 1 / (sumOfSquaredDeviations(row, count: n, from: mean) / Float(n) + epsilon).squareRoot()
    for i in 0..<n {
        dst[i] = (row[i] - mean) * inverseStd * weight[i] + bias[i]
    }
}

/// Σ (x[i] - mean)² over `x[0..<n]`, sixteen lanes at a time.
@inline(__always)
private func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, count n: Int, from mean: Float) -> Float {
    var a = SIMD8<Float>(), b = SIMD8<Float>()
    let m = SIMD8<Float>(repeating: mean)
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 16 <= n {
        let d0 = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) - m
        let d1 = raw.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self) - m
        a += d0 * d0
        b += d1 * d1
        i += 16
    }
    var result = horizontalSum(a + b)
    while i < n {
        let d = x[i] - mean
        result += d * d
        i += 1
    }
    return result
}

/// Applies the MLP activation in place to `count` values.
func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
    parallelRanges(count) { range in
        activateSerially(x + range.lowerBound, count: range.count, activation)
    }
}

/// The same on the calling thread alone.
func activateSerially(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
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
    // three passes, each of which vectorises: a float reduction written as one loop would not
    let maximum = maxElement(x, count: n)
    for i in 0..<n { x[i] = fastExp(x[i] - maximum) }
    let inverse = 1 / sumElements(x, count: n)
    for i in 0..<n { x[i] *= inverse }
}

/// The largest of `x[0..<n]` (-infinity for none), eight lanes at a time.
@inline(__always)
func maxElement(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: -.infinity)
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 8 <= n {
        // compare-and-replace compiles to one `vmaxps`; `pointwiseMax` stays a call per step
        let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        lanes.replace(with: v, where: v .> lanes)
        i += 8
    }
    var result = lanes.max()
    while i < n {
        result = max(result, x[i])
        i += 1
    }
    return result
}

/// The sum of `x[0..<n]`, sixteen lanes at a time.
@inline(__always)
func sumElements(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var a = SIMD8<Float>(), b = SIMD8<Float>()
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 16 <= n {
        a += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        b += raw.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
    }
    var result = horizontalSum(a + b)
    while i < n {
        result += x[i]
        i += 1
    }
    return result
}

/// Copies `bias[0..<n]` into each of `rows` rows of `out`, or adds it when `adding` (`out` then
/// holds a residual sum the product is added to): where a product on BLAS starts its output.
func startRows(_ out: UnsafeMutablePointer<Float>, from bias: UnsafePointer<Float>, rows: Int, n: Int, adding: Bool) {
    if adding { return addRows(bias, to: out, rows: rows, n: n) }
    for r in 0..<rows { (out + r * n).update(from: bias, count: n) }
}

/// Adds `bias[0..<n]` to each of `rows` rows of `out`.
func addRows(_ bias: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    for r in 0..<rows {
        let dst = out + r * n
        for i in 0..<n { dst[i] += bias[i] }
    }
}
