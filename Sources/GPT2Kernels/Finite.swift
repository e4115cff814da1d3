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
/// the bit set is searched element by element.
package func firstNonFinite(_ source: UnsafeRawPointer, count: Int, format: StoredFloatFormat) -> (index: Int, kind: NonFiniteKind)? {
    switch format {
    case .float32:
        firstNonFinite(source, count: count, exponent: 0x7f80_0000 as UInt32, as: SIMD16<UInt32>.self)
    case .float16:
        firstNonFinite(source, count: count, exponent: 0x7c00 as UInt16, as: SIMD32<UInt16>.self)
    case .bfloat16:
        firstNonFinite(source, count: count, exponent: 0x7f80 as UInt16, as: SIMD32<UInt16>.self)
    }
}

@inline(__always)
private func firstNonFinite<V: SIMD>(_ source: UnsafeRawPointer, count: Int, exponent: V.Scalar,
                                     as _: V.Type) -> (index: Int, kind: NonFiniteKind)?
where V.Scalar: FixedWidthInteger & UnsignedInteger {
    let size = MemoryLayout<V.Scalar>.size
    let mask = V(repeating: exponent)
    let carry = V(repeating: exponent & (~exponent &+ 1))  // the exponent's lowest bit
    let sign = V(repeating: ~(V.Scalar.max >> 1))
    let chunk = 4096  // elements: a multiple of every lane count, small enough to rescan cheaply

    func scalar(_ range: Range<Int>) -> (index: Int, kind: NonFiniteKind)? {
        for i in range {
            let bits = source.loadUnaligned(fromByteOffset: i * size, as: V.Scalar.self).littleEndian
            guard bits & exponent == exponent else { continue }
            let kind: NonFiniteKind = bits & ~(exponent | ~(V.Scalar.max >> 1)) != 0 ? .nan
                : bits >> (V.Scalar.bitWidth - 1) == 0 ? .positiveInfinity : .negativeInfinity
            return (i, kind)
        }
        return nil
    }

    var start = 0
    while start + chunk <= count {
        var flags = V()
        var i = start
        while i < start + chunk {
            let bits = source.loadUnaligned(fromByteOffset: i * size, as: V.self)
            flags |= (bits & mask) &+ carry
            i += V.scalarCount
        }
        if flags & sign != V(), let found = scalar(start..<(start + chunk)) { return found }
        start += chunk
    }
    return scalar(start..<count)
}
