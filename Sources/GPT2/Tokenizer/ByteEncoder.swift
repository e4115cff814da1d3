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
        let v = scalar.value
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

    /// Decodes a token spelled in the byte alphabet (given as UTF-8) into its raw bytes;
    /// nil when some scalar is outside the alphabet.
    static func decode(utf8 spelling: [UInt8]) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(spelling.count)
        for scalar in String(decoding: spelling, as: UTF8.self).unicodeScalars {
            guard let b = byte(for: scalar) else { return nil }
            bytes.append(b)
        }
        return bytes
    }

    /// Spells raw bytes in the byte alphabet.
    static func spell(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }
}
