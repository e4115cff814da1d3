import Foundation

// The vector helpers every kernel shares, each written once: exp, dot, axpy, max, argmax, sum,
// and the indices of the values above a threshold.
// All work on raw buffers so that the loops compile to plain vector code without bounds checks;
// exp avoids libm and `.rounded()` (a libm call without SSE4.1) so that loops over it vectorise.

/// e^x for x in [-87.3, 88] (clamped outside: ≈ 1e-38 below, ≈ 1.7e38 above, never inf).
@inline(__always)
package func fastExp(_ x: Float) -> Float {
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

/// ``fastExp(_:)`` of eight values at once, with the same operations in the same order (so the
/// same results, lane by lane): written on SIMD types because the scalar version's loops did not
/// vectorise.
@inline(__always)
package func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var x = x
    x.replace(with: SIMD8(repeating: -87.3), where: x .< -87.3)
    x.replace(with: SIMD8(repeating: 88), where: x .> 88)
    let shifted = x * 1.442695041 + 12_582_912
    let n = shifted - 12_582_912
    let r = (x - n * 0.693145752) - n * 1.428606765e-6
    var p = SIMD8<Float>(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    return p * unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD8<Float>.self)
}

/// `e[i] = fastExp(x[i] - shift)` for `i` in `0..<n`, eight at a time.
@inline(__always)
package func exponentials(_ x: UnsafePointer<Float>, minus shift: Float, into e: UnsafeMutablePointer<Float>, count n: Int) {
    let (source, destination) = (UnsafeRawPointer(x), UnsafeMutableRawPointer(e))
    var i = 0
    while i + 8 <= n {
        let v = source.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        destination.storeBytes(of: fastExp(v - shift), toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        e[i] = fastExp(x[i] - shift)
        i += 1
    }
}

/// The largest of `x[0..<n]` (-infinity for none), eight lanes at a time.
@inline(__always)
package func maxElement(_ x: UnsafePointer<Float>, count n: Int) -> Float {
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

/// The index of the largest of `x[0..<n]`, the lowest one on ties; NaN never wins; 0 when every
/// value is -infinity or NaN (or there is none).
package func argmax(_ x: UnsafePointer<Float>, count n: Int) -> Int {
    let maximum = maxElement(x, count: n)
    guard maximum > -.infinity else { return 0 }
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 8 <= n && !any(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) .== maximum) { i += 8 }
    while x[i] != maximum { i += 1 }
    return i
}

/// The indices `i` in `0..<n` with `x[i] > threshold` (never a NaN), in increasing order, eight lanes
/// at a time: chunks with none, usually most of them when few values qualify, cost one comparison.
package func indices(of x: UnsafePointer<Float>, count n: Int, greaterThan threshold: Float) -> [Int] {
    var result: [Int] = []
    result.reserveCapacity(n)  // growing a large array append by append reallocates it many times
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 8 <= n {
        if any(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) .> threshold) {
            for j in i..<(i + 8) where x[j] > threshold { result.append(j) }
        }
        i += 8
    }
    for j in i..<n where x[j] > threshold { result.append(j) }
    return result
}

/// The sum of `x[0..<n]`, sixteen lanes at a time.
@inline(__always)
package func sumElements(_ x: UnsafePointer<Float>, count n: Int) -> Float {
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

/// The sum of eight lanes by halving: `SIMD8.sum()` compiles to a slow lane-by-lane loop.
@inline(__always)
package func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// x · y over `n` floats, eight lanes at a time.
@inline(__always)
package func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
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
package func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
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
