/// The vocabulary-sized loops of the sampler, written with SIMD chunks: each runs once per
/// generated token over ~50k logits, so they decide its speed.
///
/// Every function takes a buffer of any length (a scalar loop handles the tail) and treats NaN as
/// smaller than every number, like `-infinity`.
package enum SamplingKernels {
    package typealias Chunk = SIMD16<Float>
    package static let width = Chunk.scalarCount

    @inline(__always)
    package static func load(_ base: UnsafePointer<Float>, _ i: Int) -> Chunk {
        UnsafeRawPointer(base + i).loadUnaligned(as: Chunk.self)
    }

    @inline(__always)
    package static func store(_ value: Chunk, _ base: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(base + i).storeBytes(of: value, as: Chunk.self)
    }

    /// The lanes set in `mask` as the low 16 bits of an integer (lane 0 in bit 0).
    @inline(__always)
    package static func bits(_ mask: SIMDMask<Chunk.MaskStorage>) -> UInt32 {
        let weights = Chunk.MaskStorage(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
        return UInt32(truncatingIfNeeded: Chunk.MaskStorage().replacing(with: weights, where: mask).wrappedSum())
    }

    /// The largest value, ignoring NaN; `-infinity` when there is none.
    package static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float {
        guard let base = values.baseAddress else { return -.infinity }
        let n = values.count
        var lanes = Chunk(repeating: -.infinity)
        var i = 0
        while i + width <= n {
            let v = load(base, i)
            lanes.replace(with: v, where: lanes .< v) // NaN compares false: never taken
            i += width
        }
        var result = -Float.infinity
        for lane in 0..<width where lanes[lane] > result { result = lanes[lane] }
        while i < n {
            if base[i] > result { result = base[i] }
            i += 1
        }
        return result
    }

    /// The largest value, ignoring NaN, after replacing every NaN with `-infinity` in place.
    package static func maximumReplacingNaN(_ values: UnsafeMutableBufferPointer<Float>) -> Float {
        guard let base = values.baseAddress else { return -.infinity }
        let n = values.count
        var lanes = Chunk(repeating: -.infinity)
        var sawNaN = SIMDMask<Chunk.MaskStorage>()
        var i = 0
        while i + width <= n {
            let v = load(base, i)
            sawNaN .|= v .!= v
            lanes.replace(with: v, where: lanes .< v) // NaN compares false: never taken
            i += width
        }
        if any(sawNaN) { // rare: a second pass fixes them
            for j in 0..<i where base[j].isNaN { base[j] = -.infinity }
        }
        var result = -Float.infinity
        for lane in 0..<width where lanes[lane] > result { result = lanes[lane] }
        while i < n {
            let v = base[i]
            if v > result {
                result = v
            } else if v.isNaN {
                base[i] = -.infinity
            }
            i += 1
        }
        return result
    }

    /// The index of the largest value (lowest index on ties, NaN never wins); 0 when every value
    /// is `-infinity` or NaN.
    package static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        guard let base = values.baseAddress else { return 0 }
        let best = maximum(values)
        guard best > -.infinity else { return 0 }
        let n = values.count
        var i = 0
        while i + width <= n {
            if any(load(base, i) .== best) { break }
            i += width
        }
        while i < n {
            if base[i] == best { return i }
            i += 1
        }
        return 0 // unreachable: `best` occurs in `values`
    }

    /// How many values are `>= threshold`.
    package static func count(atLeast threshold: Float, in values: UnsafeBufferPointer<Float>) -> Int {
        guard let base = values.baseAddress else { return 0 }
        let n = values.count
        var total = 0
        var i = 0
        while i + width <= n {
            let mask = load(base, i) .>= threshold
            if any(mask) { total += bits(mask).nonzeroBitCount }
            i += width
        }
        while i < n {
            if base[i] >= threshold { total += 1 }
            i += 1
        }
        return total
    }

    /// `exp(x)` for `x <= 0` (clamped to 0 above), within about 2 ulp of the exact value; exactly 0
    /// below -87.3 (where the exact result is below the smallest normal `Float`) and for
    /// `-infinity`. Must not be given NaN.
    @inline(__always)
    package static func exp(_ x: Chunk) -> Chunk {
        // exp(x) = 2^k · exp(r), k = round(x / ln 2), |r| <= ln 2 / 2, exp(r) by its Taylor series
        // to degree 7 (truncation error < 5e-9 relative).
        let lowest: Float = -87.3
        var x = x
        x.replace(with: 0, where: x .> 0)
        let underflow = x .< lowest
        x.replace(with: lowest, where: underflow)
        // Adding 1.5 · 2^23 rounds to an integer and leaves it in the low mantissa bits.
        let magic = Chunk(repeating: 12_582_912)
        let shifted = x * Float(1.442_695_040_888_963_4) + magic
        let k = shifted - magic
        // ln 2 split so that k · ln2High is exact for |k| < 2^9.
        let r = (x - k * Float(0.693_145_751_953_125)) - k * Float(1.428_606_820_286_226_8e-6)
        var p = Chunk(repeating: 1.0 / 5040)
        p = p * r + Float(1.0 / 720)
        p = p * r + Float(1.0 / 120)
        p = p * r + Float(1.0 / 24)
        p = p * r + Float(1.0 / 6)
        p = p * r + Float(0.5)
        p = p * r + Float(1)
        p = p * r + Float(1)
        let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: Chunk.self) // k >= -126: a normal number
        var result = p * scale
        result.replace(with: 0, where: underflow)
        return result
    }

    /// The scalar twin of ``exp(_:)``: the same operations in the same order, so the same
    /// results; used for tails (and fast in unoptimised builds, unlike the SIMD form).
    @inline(__always)
    package static func exp(_ x: Float) -> Float {
        let lowest: Float = -87.3
        guard x >= lowest else { return 0 } // also -infinity
        let x = min(x, 0)
        let magic: Float = 12_582_912
        let shifted = x * Float(1.442_695_040_888_963_4) + magic
        let k = shifted - magic
        let r = (x - k * Float(0.693_145_751_953_125)) - k * Float(1.428_606_820_286_226_8e-6)
        var p: Float = 1.0 / 5040
        p = p * r + Float(1.0 / 720)
        p = p * r + Float(1.0 / 120)
        p = p * r + Float(1.0 / 24)
        p = p * r + Float(1.0 / 6)
        p = p * r + Float(0.5)
        p = p * r + Float(1)
        p = p * r + Float(1)
        let exponent = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        return p * Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
    }

    /// Σ exp((v − maximum) · inverseTemperature) in `Double`. `maximum` must be finite and at
    /// least every value; NaN values are not allowed.
    package static func sumOfWeights(_ values: UnsafeBufferPointer<Float>, maximum: Float, inverseTemperature: Float) -> Double {
        guard let base = values.baseAddress else { return 0 }
        let n = values.count
        var total = 0.0
        var lanes = Chunk()
        var pending = 0
        var i = 0
        while i + width <= n {
            lanes += exp((load(base, i) - maximum) * inverseTemperature)
            pending += 1
            if pending == 64 { // keep the Float partial sums short
                total += Double(lanes.sum())
                lanes = Chunk()
                pending = 0
            }
            i += width
        }
        total += Double(lanes.sum())
        while i < n {
            total += Double(exp((base[i] - maximum) * inverseTemperature))
            i += 1
        }
        return total
    }

    /// Replaces every value `v` by its weight exp((v − maximum) · inverseTemperature) and returns
    /// their sum. `maximum` must be finite and at least every value; NaN values are not allowed.
    package static func replaceWithWeights(_ values: UnsafeMutableBufferPointer<Float>, maximum: Float, inverseTemperature: Float) -> Double {
        guard let base = values.baseAddress else { return 0 }
        let n = values.count
        var total = 0.0
        var i = 0
        while i + width <= n {
            let w = exp((load(base, i) - maximum) * inverseTemperature)
            store(w, base, i)
            total += Double(w.sum())
            i += width
        }
        while i < n {
            let w = exp((base[i] - maximum) * inverseTemperature)
            base[i] = w
            total += Double(w)
            i += 1
        }
        return total
    }

    /// The index where the running sum of `weights` (in index order, summed per chunk as
    /// ``replaceWithWeights(_:maximum:inverseTemperature:)`` does) first exceeds `target`; the
    /// last positive weight's index if rounding leaves `target` past the end.
    package static func indexOfCumulativeWeight(_ weights: UnsafeBufferPointer<Float>, exceeding target: Double) -> Int {
        guard let base = weights.baseAddress else { return 0 }
        let n = weights.count
        var cumulative = 0.0
        var i = 0
        while i + width <= n {
            let chunkSum = Double(load(base, i).sum())
            if target < cumulative + chunkSum { break }
            cumulative += chunkSum
            i += width
        }
        var last = 0
        while i < n {
            let w = base[i]
            if w > 0 {
                cumulative += Double(w)
                if target < cumulative { return i }
                last = i
            }
            i += 1
        }
        if last == 0 { // the tail had nothing: find the last positive weight anywhere
            var j = n - 1
            while j > 0 && !(base[j] > 0) { j -= 1 }
            return j
        }
        return last
    }
}
