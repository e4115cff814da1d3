import Foundation

// exp and friends written so that a plain loop over them auto-vectorises: no calls into libm,
// no `.rounded()` (a libm call without SSE4.1), only multiply, add, compare and bit moves.
// Accuracy: within 2 ulp of expf over the clamped range, far inside the engine's 1e-4 budget.

/// e^x for x in [-87.3, 88] (clamped outside: ≈ 1e-38 below, ≈ 1.7e38 above, never inf).
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.3), 88)
    // x = n·ln2 + r, |r| ≤ ln2/2; n rounded to nearest by the 1.5·2²³ trick
    let shifted = x * 1.442695041 + 12_582_912
    let n = shifted - 12_582_912
    let r = (x - n * 0.693145752) - n * 1.428606765e-6  // ln 2 split in two for precision
    // e^r by its Taylor polynomial to degree 6
    var p: Float = 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    // 2^n from the integer sitting in the low bits of `shifted`
    let exponent = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
    return p * Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) << 23))
}

/// log softmax(x)[index] over `count` values, stable for any magnitudes.
func logSoftmax(_ x: UnsafePointer<Float>, count: Int, at index: Int) -> Double {
    let maximum = maxElement(x, count: count)
    guard maximum.isFinite else { return maximum == .infinity ? -.infinity : -log(Double(count)) }
    // Σ e^(x - max) in blocks: each block's exponentials vectorise, then sum as lanes
    var sum: Float = 0
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { block in
        let e = block.baseAddress!
        for start in stride(from: 0, to: count, by: 1024) {
            let n = min(1024, count - start)
            for i in 0..<n { e[i] = fastExp(x[start + i] - maximum) }
            sum += sumElements(e, count: n)
        }
    }
    // x[index] - maximum is exact; the log of the sum is taken in double precision
    return Double(x[index] - maximum) - log(Double(sum))
}
