import Dispatch

/// Attention for decode (one or a few new queries against a long cache), flash-decoding style:
/// the keys are split into contiguous chunks, one per thread; each chunk walks its key rows in
/// order, computing all heads of a row at once (a cache row holds every head side by side, so
/// memory is read front to back), with an online softmax; the chunks' partial results are then
/// merged by their log-sum-exp weights.
public struct FlashDecodeAttention: AttentionKernel {
    public let name = "flash-decode"
    /// Keys per tile within a chunk (the scores of one tile stay in L1).
    public var tileKeys = 64
    /// Keys per chunk at least: fewer keys than this run on the calling thread alone. Low, since
    /// from a cold cache even 16 rows per thread (48 KB of keys and values for GPT-2 124M) read
    /// faster on two cores than on one.
    public var minimumChunkKeys = 16

    public init() {}

    public func run(_ a: AttentionArguments) {
        for t in 0..<a.shape.queryCount {
            attendOneQuery(a, row: t, visible: a.shape.pastCount + t + 1)
        }
    }

    /// Partial result of one chunk of keys: per head, running maximum, sum and Σ p·v.
    private struct Partial {
        var maximum: UnsafeMutablePointer<Float>  // [H]
        var sum: UnsafeMutablePointer<Float>      // [H]
        var output: UnsafeMutablePointer<Float>   // [H, D]
    }

    private func attendOneQuery(_ a: AttentionArguments, row t: Int, visible: Int) {
        let H = a.shape.headCount, D = a.shape.headSize
        let threads = kernelThreadCount.value
        let chunks = max(1, min(threads, visible / minimumChunkKeys))
        let chunkSize = (visible + chunks - 1) / chunks
        let perChunk = 2 * H + H * D
        withUnsafeTemporaryAllocation(of: Float.self, capacity: chunks * perChunk) { storage in
            let base = storage.baseAddress!
            func partial(_ c: Int) -> Partial {
                let p = base + c * perChunk
                return Partial(maximum: p, sum: p + H, output: p + 2 * H)
            }
            parallelRanges(chunks, minimumPerPart: 1) { range in  // chunks write disjoint partials
                for c in range {
                    let start = c * chunkSize
                    attendChunk(a, row: t, keys: start..<min(visible, start + chunkSize), into: partial(c))
                }
            }
            // merge: out_h = Σ_c e^(m_c - M) o_c / Σ_c e^(m_c - M) l_c
            let out = a.output + t * a.outputStride
            for h in 0..<H {
                var maximum = -Float.infinity
                for c in 0..<chunks { maximum = max(maximum, partial(c).maximum[h]) }
                var total: Float = 0
                let o = out + h * D
                o.initialize(repeating: 0, count: D)
                for c in 0..<chunks {
                    let weight = fastExp(partial(c).maximum[h] - maximum)
                    total += weight * partial(c).sum[h]
                    axpy(weight, partial(c).output + h * D, o, D)
                }
                let inverse = 1 / total
                for d in 0..<D { o[d] *= inverse }
            }
        }
    }

    /// All heads of query row `t` against the keys in `range`, with an online softmax per head.
    private func attendChunk(_ a: AttentionArguments, row t: Int, keys range: Range<Int>, into result: Partial) {
        let H = a.shape.headCount, D = a.shape.headSize
        let q = a.queries + t * a.queryStride
        result.maximum.initialize(repeating: -.infinity, count: H)
        result.sum.initialize(repeating: 0, count: H)
        result.output.initialize(repeating: 0, count: H * D)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: H * tileKeys) { scratch in
            let s = scratch.baseAddress!  // [H, tileKeys] scores of one tile
            for tileStart in stride(from: range.lowerBound, to: range.upperBound, by: tileKeys) {
                let n = min(tileKeys, range.upperBound - tileStart)
                // scores of every head for each key row, reading the rows in order
                for j in 0..<n {
                    let k = a.keys + (tileStart + j) * a.keyValueStride
                    for h in 0..<H { s[h * tileKeys + j] = dot(q + h * D, k + h * D, D) * a.scale }
                }
                // online softmax per head: rescale what came before if the maximum grew
                for h in 0..<H {
                    let row = s + h * tileKeys
                    let newMax = max(result.maximum[h], maxElement(row, count: n))
                    let correction = fastExp(result.maximum[h] - newMax)
                    result.maximum[h] = newMax
                    for j in 0..<n { row[j] = fastExp(row[j] - newMax) }
                    result.sum[h] = result.sum[h] * correction + sumElements(row, count: n)
                    if correction != 1 {
                        let o = result.output + h * D
                        for d in 0..<D { o[d] *= correction }
                    }
                }
                // output += p · v, again one value row (all heads) at a time
                for j in 0..<n {
                    let v = a.values + (tileStart + j) * a.keyValueStride
                    for h in 0..<H { axpy(s[h * tileKeys + j], v + h * D, result.output + h * D, D) }
                }
            }
        }
    }
}
