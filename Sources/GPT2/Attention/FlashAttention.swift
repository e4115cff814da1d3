import Dispatch

/// Tiled attention with an online softmax (the flash-attention scheme), in Swift: each query keeps
/// a running maximum, sum and output while it walks the keys tile by tile, so the scores never
/// exist as a whole matrix. Heads × query blocks run in parallel; a tile of keys is loaded once
/// per block of queries.
public struct FlashAttention: AttentionKernel {
    public let name = "flash"
    /// Query rows per work item.
    public var blockRows = 16
    /// Keys per tile.
    public var tileKeys = 64
    /// Below this many FLOPs the problem runs on the calling thread (a thread hop costs more).
    public var parallelThreshold: Double = 2e6

    public init() {}

    public func run(_ a: AttentionArguments) {
        let blocks = (a.shape.queryCount + blockRows - 1) / blockRows
        let items = a.shape.headCount * blocks
        if a.shape.flops < parallelThreshold || items == 1 {
            for item in 0..<items { runBlock(a, head: item / blocks, block: item % blocks) }
        } else {
            DispatchQueue.concurrentPerform(iterations: items) { item in
                runBlock(a, head: item / blocks, block: item % blocks)
            }
        }
    }

    /// Queries `block·blockRows ..< +blockRows` of head `head`.
    private func runBlock(_ a: AttentionArguments, head h: Int, block: Int) {
        let D = a.shape.headSize
        let first = block * blockRows
        let rows = min(blockRows, a.shape.queryCount - first)
        let P = a.shape.pastCount
        let seen = P + first + rows  // keys the block's last row sees
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * D + 2 * rows + tileKeys) { scratch in
            let acc = scratch.baseAddress!          // [rows, D] running Σ p·v
            let runningMax = acc + rows * D         // [rows]
            let runningSum = runningMax + rows      // [rows]
            let s = runningSum + rows               // [tileKeys] scores of one row against one tile
            acc.initialize(repeating: 0, count: rows * D)
            runningMax.initialize(repeating: -.infinity, count: rows)
            runningSum.initialize(repeating: 0, count: rows)

            for tileStart in stride(from: 0, to: seen, by: tileKeys) {
                let tileEnd = min(tileStart + tileKeys, seen)
                for r in 0..<rows {
                    let visibleEnd = min(tileEnd, P + first + r + 1)
                    guard visibleEnd > tileStart else { continue }  // tile entirely masked for this row
                    let q = a.queries + (first + r) * a.queryStride + h * D
                    let n = visibleEnd - tileStart
                    // s[j] = scale · q · k_j
                    for j in 0..<n {
                        s[j] = dot(q, a.keys + (tileStart + j) * a.keyValueStride + h * D, D) * a.scale
                    }
                    // rescale what was accumulated under the old maximum
                    let newMax = max(runningMax[r], maxElement(s, count: n))
                    let correction = fastExp(runningMax[r] - newMax)
                    runningMax[r] = newMax
                    for j in 0..<n { s[j] = fastExp(s[j] - newMax) }
                    runningSum[r] = runningSum[r] * correction + sumElements(s, count: n)
                    let o = acc + r * D
                    if correction != 1 { for d in 0..<D { o[d] *= correction } }
                    // o += Σ p_j · v_j
                    for j in 0..<n {
                        axpy(s[j], a.values + (tileStart + j) * a.keyValueStride + h * D, o, D)
                    }
                }
            }
            for r in 0..<rows {
                let out = a.output + (first + r) * a.outputStride + h * D
                let inverse = 1 / runningSum[r]
                for d in 0..<D { out[d] = acc[r * D + d] * inverse }
            }
        }
    }
}

/// x · y over `n` floats, eight lanes at a time.
@inline(__always)
func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>()
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
    while i + 16 <= n {
        sum0 = multiplyAdd(sum0, rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                           ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        sum1 = multiplyAdd(sum1, rx.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self),
                           ry.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        i += 16
    }
    var sum = horizontalSum(sum0 + sum1)
    while i < n {
        sum += x[i] * y[i]
        i += 1
    }
    return sum
}

/// y += alpha · x over `n` floats, eight lanes at a time.
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    let a = SIMD8<Float>(repeating: alpha)
    while i + 8 <= n {
        let sum = multiplyAdd(ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), a,
                              rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        ry.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        y[i] += alpha * x[i]
        i += 1
    }
}
