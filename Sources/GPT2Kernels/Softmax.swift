import Foundation

/// Replaces `x[0..<n]` by its softmax.
package func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    // three passes, each of which vectorises: a float reduction written as one loop would not
    let maximum = maxElement(x, count: n)
    exponentials(x, minus: maximum, into: x, count: n)
    let inverse = 1 / sumElements(x, count: n)
    for i in 0..<n { x[i] *= inverse }
}

/// log softmax(x)[index] over `count` values, stable for any magnitudes.
package func logSoftmax(_ x: UnsafePointer<Float>, count: Int, at index: Int) -> Double {
    let maximum = maxElement(x, count: count)
    guard maximum.isFinite else { return maximum == .infinity ? -.infinity : -log(Double(count)) }
    // Σ e^(x - max) in blocks: each block's exponentials vectorise, then sum as lanes
    var sum: Float = 0
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { block in
        let e = block.baseAddress!
        for start in stride(from: 0, to: count, by: 1024) {
            let n = min(1024, count - start)
            exponentials(x + start, minus: maximum, into: e, count: n)
            sum += sumElements(e, count: n)
        }
    }
    // x[index] - maximum is exact; the log of the sum is taken in double precision
    return Double(x[index] - maximum) - log(Double(sum))
}
