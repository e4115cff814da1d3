/// The UTF-8 well-formedness table (Unicode §3.9, table 3-7) for a sequence's first byte: its
/// length and the range its second byte must lie in (later bytes are all 0x80...0xBF); `nil` for a
/// byte that never starts a multi-byte sequence (ASCII included).
@inline(__always)
func utf8Sequence(startingWith b0: UInt8) -> (length: Int, second: ClosedRange<UInt8>)? {
    switch b0 {
    case 0xC2...0xDF: (2, 0x80...0xBF)
    case 0xE0: (3, 0xA0...0xBF)
    case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80...0xBF)
    case 0xED: (3, 0x80...0x9F)
    case 0xF0: (4, 0x90...0xBF)
    case 0xF1...0xF3: (4, 0x80...0xBF)
    case 0xF4: (4, 0x80...0x8F)
    default: nil
    }
}
