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

/// Eight finite halves at `base + byteOffset` → eight floats, exactly. Where the build may use the
/// CPU's conversion (x86 with `-DGPT2_FMA`, ARM64), one instruction; elsewhere four vector
/// instructions that SSE2 has: sign-extend to 32 bits, move exponent and mantissa into a float's
/// fields (the sign lands on the float's sign bit), rescale by 2¹¹² (the difference of the
/// exponent biases), which also turns half subnormals into the right normal floats. There
/// infinities and NaNs would come out as large finite values, so the loader refuses float16
/// matrices that hold them.
@inline(__always)
package func floatsFromHalves(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
    #if (GPT2_FMA && !(os(macOS) && arch(x86_64))) || arch(arm64)  // as KernelBuild.widensHalvesInHardware
    // the CPU converts: one vcvtph2ps (every x86 CPU with FMA has F16C) or fcvtl pair; exact too.
    // Lane by lane, which LLVM merges into that one instruction: the vector initializer is a
    // generic function the inliner may leave as a call (it did in the four-row tile)
    let h = base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float16>.self)
    return SIMD8<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    #else
    // lane by lane, which compiles to one extending load; `init(truncatingIfNeeded:)` is a call
    let h = base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Int16>.self)
    let bits = SIMD8<Int32>(Int32(h[0]), Int32(h[1]), Int32(h[2]), Int32(h[3]),
                            Int32(h[4]), Int32(h[5]), Int32(h[6]), Int32(h[7]))
    let fields = (bits &<< 13) & Int32(bitPattern: 0x8FFF_E000)
    return unsafeBitCast(fields, to: SIMD8<Float>.self) * 0x1p112
    #endif
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

/// Calls `body` with `count` float16 values widened to float32 in a temporary buffer (in parallel).
package func withFloats<R>(fromHalves halves: UnsafePointer<UInt16>, count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
    let floats = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { floats.deallocate() }
    parallelRanges(count / 8, minimumPerPart: 16_384) { blocks in
        let source = UnsafeRawPointer(halves), destination = UnsafeMutableRawPointer(floats)
        for b in blocks {
            let vector = floatsFromHalves(source, byteOffset: 16 * b)
            destination.storeBytes(of: vector, toByteOffset: 32 * b, as: SIMD8<Float>.self)
        }
    }
    for i in (count / 8 * 8)..<count { floats[i] = floatFromHalf(halves[i]) }
    return body(floats)
}
