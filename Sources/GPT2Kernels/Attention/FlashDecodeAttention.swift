import Dispatch

/// Attention for decode (one or a few new queries against a long cache), flash-decoding style:
/// the keys are split into contiguous chunks, one per thread; each chunk walks its key rows in
/// order, computing all heads of a row at once (a cache row holds every head side by side, so
/// memory is read front to back), with an online softmax; the chunks' partial results are then
/// merged by their log-sum-exp weights.
package struct FlashDecodeAttention: AttentionKernel {
    package let name = "flash-decode"
    /// Keys per tile within a chunk (the scores of one tile stay in L1).
    package var tileKeys = 64
    /// Keys per chunk at least: fewer keys than this run on the calling thread alone. Low, since
    /// from a cold cache even 16 rows per thread (48 KB of keys and values for GPT-2 124M) read
    /// faster on two cores than on one.
    package var minimumChunkKeys = 16
    /// Whether the chunks run one after another on the calling thread, for a caller that runs
    /// several sequences' attention in parallel: the same chunks, merged the same way, so the
    /// result is the same to the bit.
    package var serial = false

    package init(serial: Bool = false) { self.serial = serial }

    package func run(_ a: AttentionArguments) {
        for t in 0..<a.shape.queryCount {
            attendOneQuery(a, row: t, visible: a.shape.pastCount + t + 1)
        }
    }

    /// Partial result of one chunk of keys: per head, running maximum, sum and Σ p·v.
    private struct Partial {
        package var maximum: UnsafeMutablePointer<Float>  // [H]
        package var sum: UnsafeMutablePointer<Float>      // [H]
        package var output: UnsafeMutablePointer<Float>   // [H, D]
    }

    private func attendOneQuery(_ a: AttentionArguments, row t: Int, visible: Int) {
        let H = a.shape.headCount, D = a.shape.headSize
        let threads = KernelThreads.count
        let chunks = max(1, min(threads, visible / minimumChunkKeys))
        let chunkSize = (visible + chunks - 1) / chunks
        let perChunk = 2 * H + H * D
        withUnsafeTemporaryAllocation(of: Float.self, capacity: chunks * perChunk) { storage in
            let base = storage.baseAddress!
            func partial(_ c: Int) -> Partial {
                let p = base + c * perChunk
                return Partial(maximum: p, sum: p + H, output: p + 2 * H)
            }
            func attend(_ range: Range<Int>) {  // chunks write disjoint partials
                for c in range {
                    let start = c * chunkSize
                    attendChunk(a, row: t, keys: start..<min(visible, start + chunkSize), into: partial(c))
                }
            }
            if serial { attend(0..<chunks) } else { parallelRanges(chunks, minimumPerPart: 1, attend) }
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
                // scores of every head for each key row, reading the rows in order: eight rows at
                // a time while they last (one load of q per eight keys, no per-key reduction)
                let blocked = D % 8 == 0 ? n / 8 * 8 : 0
                for j in stride(from: 0, to: blocked, by: 8) {
                    let k = a.keys + (tileStart + j) * a.keyValueStride
                    for h in 0..<H {
                        let scores = eightDots(q + h * D, k + h * D, keyStride: a.keyValueStride, D) * a.scale
                        UnsafeMutableRawPointer(s + h * tileKeys + j).storeBytes(of: scores, as: SIMD8<Float>.self)
                    }
                }
                for j in blocked..<n {
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
                // output += p · v, again eight value rows at a time while they last (each head's
                // output loaded and stored once per eight rows), then one row (all heads) at a time
                for j in stride(from: 0, to: blocked, by: 8) {
                    let v = a.values + (tileStart + j) * a.keyValueStride
                    for h in 0..<H {
                        let p = UnsafeRawPointer(s + h * tileKeys + j).loadUnaligned(as: SIMD8<Float>.self)
                        addEightRows(p, v + h * D, rowStride: a.keyValueStride, into: result.output + h * D, D)
                    }
                }
                for j in blocked..<n {
                    let v = a.values + (tileStart + j) * a.keyValueStride
                    for h in 0..<H { axpy(s[h * tileKeys + j], v + h * D, result.output + h * D, D) }
                }
            }
        }
    }
}

/// q · k_r for the eight rows k_r = `k + r · keyStride` (r = 0..<8), over `n` floats (a multiple
/// of 8): each lane of q loaded once for all eight rows, eight independent sums.
@inline(__always)
private func eightDots(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, keyStride: Int, _ n: Int) -> SIMD8<Float> {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
    var s4 = SIMD8<Float>(), s5 = SIMD8<Float>(), s6 = SIMD8<Float>(), s7 = SIMD8<Float>()
    let rq = UnsafeRawPointer(q), rk = UnsafeRawPointer(k), row = 4 * keyStride
    var offset = 0
    while offset < 4 * n {
        let lane = rq.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        s0 = multiplyAdd(s0, lane, rk.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
        s1 = multiplyAdd(s1, lane, rk.loadUnaligned(fromByteOffset: offset + row, as: SIMD8<Float>.self))
        s2 = multiplyAdd(s2, lane, rk.loadUnaligned(fromByteOffset: offset + 2 * row, as: SIMD8<Float>.self))
        s3 = multiplyAdd(s3, lane, rk.loadUnaligned(fromByteOffset: offset + 3 * row, as: SIMD8<Float>.self))
        s4 = multiplyAdd(s4, lane, rk.loadUnaligned(fromByteOffset: offset + 4 * row, as: SIMD8<Float>.self))
        s5 = multiplyAdd(s5, lane, rk.loadUnaligned(fromByteOffset: offset + 5 * row, as: SIMD8<Float>.self))
        s6 = multiplyAdd(s6, lane, rk.loadUnaligned(fromByteOffset: offset + 6 * row, as: SIMD8<Float>.self))
        s7 = multiplyAdd(s7, lane, rk.loadUnaligned(fromByteOffset: offset + 7 * row, as: SIMD8<Float>.self))
        offset += 32
    }
    return horizontalSums(s0, s1, s2, s3, s4, s5, s6, s7)
}

/// The eight lanes' sums of eight vectors, as one vector: halving, then pairwise sums.
@inline(__always)
private func horizontalSums(_ s0: SIMD8<Float>, _ s1: SIMD8<Float>, _ s2: SIMD8<Float>, _ s3: SIMD8<Float>,
                            _ s4: SIMD8<Float>, _ s5: SIMD8<Float>, _ s6: SIMD8<Float>, _ s7: SIMD8<Float>) -> SIMD8<Float> {
    // [a0+a1, a2+a3, b0+b1, b2+b3] → [Σa, Σb] for two four-lane vectors
    func pairs(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
        let ab = SIMD8(lowHalf: a, highHalf: b)
        return ab.evenHalf + ab.oddHalf
    }
    let q01 = pairs(s0.lowHalf + s0.highHalf, s1.lowHalf + s1.highHalf)
    let q23 = pairs(s2.lowHalf + s2.highHalf, s3.lowHalf + s3.highHalf)
    let q45 = pairs(s4.lowHalf + s4.highHalf, s5.lowHalf + s5.highHalf)
    let q67 = pairs(s6.lowHalf + s6.highHalf, s7.lowHalf + s7.highHalf)
    return SIMD8(lowHalf: pairs(q01, q23), highHalf: pairs(q45, q67))
}

/// out += Σ_r p[r] · v_r for the eight rows v_r = `v + r · rowStride`, over `n` floats (a multiple
/// of 8): `out` loaded and stored once for all eight rows.
@inline(__always)
private func addEightRows(_ p: SIMD8<Float>, _ v: UnsafePointer<Float>, rowStride: Int,
                          into out: UnsafeMutablePointer<Float>, _ n: Int) {
    let p0 = SIMD8<Float>(repeating: p[0]), p1 = SIMD8<Float>(repeating: p[1])
    let p2 = SIMD8<Float>(repeating: p[2]), p3 = SIMD8<Float>(repeating: p[3])
    let p4 = SIMD8<Float>(repeating: p[4]), p5 = SIMD8<Float>(repeating: p[5])
    let p6 = SIMD8<Float>(repeating: p[6]), p7 = SIMD8<Float>(repeating: p[7])
    let rv = UnsafeRawPointer(v), ro = UnsafeMutableRawPointer(out), row = 4 * rowStride
    var offset = 0
    while offset < 4 * n {
        // two chains of multiply-adds
        var a = ro.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        var b = p1 * rv.loadUnaligned(fromByteOffset: offset + row, as: SIMD8<Float>.self)
        a = multiplyAdd(a, p0, rv.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
        b = multiplyAdd(b, p3, rv.loadUnaligned(fromByteOffset: offset + 3 * row, as: SIMD8<Float>.self))
        a = multiplyAdd(a, p2, rv.loadUnaligned(fromByteOffset: offset + 2 * row, as: SIMD8<Float>.self))
        b = multiplyAdd(b, p5, rv.loadUnaligned(fromByteOffset: offset + 5 * row, as: SIMD8<Float>.self))
        a = multiplyAdd(a, p4, rv.loadUnaligned(fromByteOffset: offset + 4 * row, as: SIMD8<Float>.self))
        b = multiplyAdd(b, p7, rv.loadUnaligned(fromByteOffset: offset + 7 * row, as: SIMD8<Float>.self))
        a = multiplyAdd(a, p6, rv.loadUnaligned(fromByteOffset: offset + 6 * row, as: SIMD8<Float>.self))
        ro.storeBytes(of: a + b, toByteOffset: offset, as: SIMD8<Float>.self)
        offset += 32
    }
}
