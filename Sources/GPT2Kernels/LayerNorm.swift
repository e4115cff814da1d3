import Foundation

/// `out[r] = (x[r] - mean) / sqrt(var + eps) · weight + bias` for each of `rows` rows of width `n`.
package func layerNorm(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, n: Int,
               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
    parallelRanges(rows, minimumPerPart: max(1, 32_768 / n)) { rows in
        for r in rows { layerNormRow(x + r * n, out + r * n, n: n, weight: weight, bias: bias, epsilon: epsilon) }
    }
}

@inline(__always)
private func layerNormRow(_ row: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float) {
    // the two reductions eight lanes at a time: a float sum written as one loop would not
    // vectorise, and a chain of n dependent additions per row is slow enough to show in a profile
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
