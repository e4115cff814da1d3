// IEEE 754 binary16 ("half", float16) conversions, written out in integer operations so that they
// are exact and portable: Swift's `Float16` is not available on every platform (macOS on Intel),
// and its vector conversions are a library call per lane without `-target-cpu`.

/// binary16 → binary32, exactly (every half value is representable as a float).
@inline(__always)
package func floatFromHalf(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1f
    let mantissa = UInt32(bits & 0x03ff)
    switch exponent {
    case 0:  // zero or subnormal: mantissa × 2⁻²⁴
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    case 0x1f:  // infinity or NaN
        return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}

extension KernelBuild {
    /// Whether ``floatsFromHalves(_:byteOffset:)`` is the CPU's own conversion (the same
    /// condition). Then float16 matrices decode fastest with an output's weights in one row (row
    /// dots); widened by SSE2 integer operations, input-major (measured: Benchmarks/README.md).
    package static var widensHalvesInHardware: Bool {
        #if (GPT2_FMA && !(os(macOS) && arch(x86_64))) || arch(arm64)
        true
        #else
        false
        #endif
    }
}

/// Eight finite halves at `base + byteOffset` → eight floats, exactly.
@inline(__always)
package func floatsFromHalves(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
    halfFields(base, byteOffset: byteOffset) * halfFieldsScale
}

/// What ``halfFields(_:byteOffset:)`` must be multiplied by to give the halves' values: 1 where
/// the CPU converts, 2¹¹² (the difference of the exponent biases) in SSE2.
package var halfFieldsScale: Float {
    @inline(__always) get { KernelBuild.widensHalvesInHardware ? 1 : 0x1p112 }
}

/// Eight finite halves at `base + byteOffset` as floats, each its value ÷ ``halfFieldsScale``:
/// the decode kernels multiply x by that scale instead, once per product. Where the build may use
/// the CPU's conversion (x86 with `-DGPT2_FMA`, ARM64), one instruction; elsewhere seven that
/// SSE2 has per eight: the halves read as four 32-bit pairs, the upper one of each moved into a
/// float's fields by an arithmetic shift (the sign stays on the float's sign bit) and a mask that
/// clears the sign's copies and the lower half, the lower one the same after a shift left, then
/// two unpacks that put them back in order. Half subnormals come out as float subnormals, which
/// cost Intel CPUs a microcode assist in every multiply, so the loader stores software-widened
/// matrices scaled up by 2ᵏ to have none (``scaleHalvesUp(_:count:)``). Infinities and NaNs would
/// come out as large finite values, so the loader refuses float16 matrices that hold them.
@inline(__always)
package func halfFields(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
    #if (GPT2_FMA && !(os(macOS) && arch(x86_64))) || arch(arm64)
    // the CPU converts: one vcvtph2ps (every x86 CPU with FMA has F16C) or fcvtl pair; exact too.
    // Lane by lane, which LLVM merges into that one instruction: the vector initializer is a
    // generic function the inliner may leave as a call (it did in the four-row tile)
    let h = base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float16>.self)
    return SIMD8<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    #else
    // Every instruction reads only the loaded pairs. Unpacking each half into the top of 32 bits
    // first is one fewer, but LLVM then fills the masked-off bottoms from any register, often the
    // last product: a chain through every widening of the loop (Benchmarks/README.md).
    let pairs = base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD4<Int32>.self)
    let mask = Int32(bitPattern: 0x8FFF_E000)
    let low = unsafeBitCast(((pairs &<< 16) &>> 3) & mask, to: SIMD4<Float>.self)
    let high = unsafeBitCast((pairs &>> 3) & mask, to: SIMD4<Float>.self)
    #if _endian(little)  // each pair's first half in its low 16 bits
    return SIMD8(low[0], high[0], low[1], high[1], low[2], high[2], low[3], high[3])
    #else
    return SIMD8(high[0], low[0], high[1], low[1], high[2], low[2], high[3], low[3])
    #endif
    #endif
}

/// Multiplies `count` finite halves in place by 2ᵏ, the largest power of two up to 2¹⁰ that keeps
/// every one within ±65504, and returns 2⁻ᵏ: the scale that gives their values back. Exact (a
/// power of two moves only the exponent); with k = 10, which GPT-2's weights allow, no half is
/// left subnormal, so that ``halfFields(_:byteOffset:)`` never makes a float subnormal.
package func scaleHalvesUp(_ halves: UnsafeMutablePointer<UInt16>, count: Int) -> Float {
    var largest: UInt16 = 0
    for i in 0..<count { largest = max(largest, halves[i] & 0x7fff) }
    var k = 10
    while k > 0 && floatFromHalf(largest) * Float(1 << k) > 65504 { k -= 1 }
    guard k > 0 else { return 1 }
    let factor = Float(1 << k)
    for i in 0..<count {
        let h = halves[i]
        halves[i] = h & 0x7c00 != 0 ? h + UInt16(k << 10)  // a normal half: add k to its exponent
            : halfFromFloat(floatFromHalf(h) * factor)      // zero or subnormal
    }
    return 1 / factor
}

/// binary32 → binary16, rounded to nearest, ties to even; overflow gives ±infinity, NaN stays NaN.
package func halfFromFloat(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xff)
    let mantissa = bits & 0x7f_ffff
    if exponent == 0xff {  // infinity or NaN (kept quiet and non-zero)
        return sign | 0x7c00 | (mantissa == 0 ? 0 : 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13))
    }
    let halfExponent = exponent - 127 + 15
    if halfExponent >= 0x1f { return sign | 0x7c00 }
    if halfExponent <= 0 {  // a half subnormal, or zero
        guard halfExponent >= -10 else { return sign }
        let full = mantissa | 0x80_0000
        let shift = UInt32(14 - halfExponent)
        return sign | UInt16(truncatingIfNeeded: roundShifted(full, by: shift))
    }
    // a carry out of the mantissa moves to the next exponent (or to infinity): still correct
    let combined = UInt32(halfExponent) << 23 | mantissa
    return sign | UInt16(truncatingIfNeeded: roundShifted(combined, by: 13))
}

/// `value >> shift`, rounded to nearest, ties to even.
@inline(__always)
private func roundShifted(_ value: UInt32, by shift: UInt32) -> UInt32 {
    let truncated = value >> shift
    let remainder = value & ((1 << shift) - 1)
    let half: UInt32 = 1 << (shift - 1)
    return remainder > half || (remainder == half && truncated & 1 == 1) ? truncated + 1 : truncated
}

/// `count` float16 values times `scale` (a power of two) as float32, into `floats`.
package func widenHalves(_ halves: UnsafePointer<UInt16>, count: Int, scale: Float, into floats: UnsafeMutablePointer<Float>) {
    let fieldsScale = halfFieldsScale * scale
    let source = UnsafeRawPointer(halves), destination = UnsafeMutableRawPointer(floats)
    for b in 0..<(count / 8) {
        destination.storeBytes(of: halfFields(source, byteOffset: 16 * b) * fieldsScale, toByteOffset: 32 * b, as: SIMD8<Float>.self)
    }
    for i in (count / 8 * 8)..<count { floats[i] = floatFromHalf(halves[i]) * scale }
}
