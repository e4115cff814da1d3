/// The IEEE binary formats weights are stored in, little-endian, as bit patterns.
package enum StoredFloatFormat: Sendable {
    case float32, float16, bfloat16

    /// Bytes per element.
    package var byteSize: Int { self == .float32 ? 4 : 2 }
}

/// What a non-finite element is.
package enum NonFiniteKind: String, Sendable {
    case nan = "NaN", positiveInfinity = "+infinity", negativeInfinity = "-infinity"
}

/// The first element of `count` little-endian `format` values at `source` (any alignment) that is
/// NaN or infinite, and which it is; nil when every one is finite.
///
/// A value is non-finite when its exponent bits are all ones. Adding the exponent's lowest bit to
/// the masked exponent then carries into the sign bit, and only then; OR-ing those sums over a
/// chunk leaves the sign bit set if any element of the chunk is non-finite. That is three integer
/// vector operations per load with no branch, so the scan runs at memory speed; only a chunk with
/// the bit set is searched element by element. Halves are scanned two to a 32-bit lane (the sum in
/// the low half stops at its sign bit): vectors of 16-bit lanes compiled to element-wise code,
/// a hundred times slower.
package func firstNonFinite(_ source: UnsafeRawPointer, count: Int, format: StoredFloatFormat) -> (index: Int, kind: NonFiniteKind)? {
    switch format {
    case .float32: firstNonFinite(source, count: count, exponent: 0x7f80_0000 as UInt32)
    case .float16: firstNonFinite(source, count: count, exponent: 0x7c00 as UInt16)
    case .bfloat16: firstNonFinite(source, count: count, exponent: 0x7f80 as UInt16)
    }
}

@inline(__always)
private func firstNonFinite<Scalar: FixedWidthInteger & UnsignedInteger>(_ source: UnsafeRawPointer, count: Int,
                                                                          exponent: Scalar) -> (index: Int, kind: NonFiniteKind)? {
    let size = MemoryLayout<Scalar>.size
    let signBit = ~(Scalar.max >> 1)
    /// `value` in each element's place of a 32-bit lane.
    func lanes(_ value: Scalar) -> SIMD16<UInt32> {
        var lane: UInt32 = 0
        for k in stride(from: 0, to: 32, by: Scalar.bitWidth) { lane |= UInt32(value) << k }
        return SIMD16(repeating: lane)
    }
    let mask = lanes(exponent), carry = lanes(exponent & (~exponent &+ 1)), sign = lanes(signBit)
    let chunk = 4096  // elements: a multiple of every lane count, small enough to rescan cheaply

    func scalar(_ range: Range<Int>) -> (index: Int, kind: NonFiniteKind)? {
        for i in range {
            let bits = source.loadUnaligned(fromByteOffset: i * size, as: Scalar.self).littleEndian
            guard bits & exponent == exponent else { continue }
            let kind: NonFiniteKind = bits & ~(exponent | signBit) != 0 ? .nan
                : bits & signBit == 0 ? .positiveInfinity : .negativeInfinity
            return (i, kind)
        }
        return nil
    }

    var start = 0
    while start + chunk <= count {
        var flags = SIMD16<UInt32>()
        var offset = start * size
        while offset < (start + chunk) * size {
            let bits = source.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt32>.self)
            flags |= (bits & mask) &+ carry
            offset += MemoryLayout<SIMD16<UInt32>>.size
        }
        if flags & sign != SIMD16(), let found = scalar(start..<(start + chunk)) { return found }
        start += chunk
    }
    return scalar(start..<count)
}
