import Dispatch
import GPT2Kernels

/// A lab-only kernel: tiled attention with an online softmax (the flash-attention scheme), in Swift: each query keeps
/// a running maximum, sum and output while it walks the keys tile by tile, so the scores never
/// exist as a whole matrix. Heads × query blocks run in parallel; a tile of keys is loaded once
/// per block of queries.
struct FlashAttention: AttentionKernel {
    let name = "flash"
    /// Query rows per work item.
    var blockRows = 16
    /// Keys per tile.
    var tileKeys = 64
    /// Below this many FLOPs the problem runs on the calling thread (a thread hop costs more).
    var parallelThreshold: Double = 2e6

    init() {}

    func run(_ a: AttentionArguments) {
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
