/// GPT-2's reversible map between the 256 byte values and 256 printable Unicode scalars.
///
/// Vocabulary files spell every token as a string of these scalars, one per byte: printable
/// Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves and the other 68 bytes (controls,
/// space, soft hyphen, ...) take the scalars U+0100, U+0101, ... in byte order, so the space 0x20
/// is spelled `Ġ` (U+0120) and the newline 0x0A is `Ċ` (U+010A).
enum GPT2ByteEncoder {
    /// `scalars[b]` is the scalar that spells byte `b`.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar spells, or nil when the scalar is not one of the 256.
    @inline(__always)
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        byte(forScalarValue: scalar.value)
    }

    @inline(__always)
    static func byte(forScalarValue v: UInt32) -> UInt8? {
        if v < 256 { return isPrintable(UInt8(v)) ? UInt8(v) : nil }
        if v < 256 + 68 { return nonPrintable[Int(v - 256)] }
        return nil
    }

    /// Bytes that stand for themselves.
    @inline(__always)
    static func isPrintable(_ b: UInt8) -> Bool {
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)
    }

    /// The bytes spelled by U+0100 + i, in order.
    private static let nonPrintable: [UInt8] = (0..<256).compactMap { isPrintable(UInt8($0)) ? nil : UInt8($0) }

    /// Decodes a token spelled in the byte alphabet (given as valid UTF-8) and appends its raw
    /// bytes to `out`; returns false, leaving `out` as it was, when some scalar is outside the
    /// alphabet. (Every scalar of the alphabet is below U+0800: one or two UTF-8 bytes.)
    static func decode(utf8 spelling: ArraySlice<UInt8>, appendingTo out: inout [UInt8]) -> Bool {
        let mark = out.count
        var i = spelling.startIndex
        while i < spelling.endIndex {
            let b0 = spelling[i]
            let value: UInt32
            if b0 < 0x80 {
                value = UInt32(b0)
                i += 1
            } else if b0 & 0xE0 == 0xC0, i + 1 < spelling.endIndex {
                value = UInt32(b0 & 0x1F) << 6 | UInt32(spelling[i + 1] & 0x3F)
                i += 2
            } else {
                out.removeSubrange(mark...)
                return false
            }
            guard let byte = byte(forScalarValue: value) else {
                out.removeSubrange(mark...)
                return false
            }
            out.append(byte)
        }
        return true
    }

    /// Spells raw bytes in the byte alphabet.
    static func spell(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }
}
