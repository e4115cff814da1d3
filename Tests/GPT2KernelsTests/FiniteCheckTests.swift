import Foundation
import Testing
@testable import GPT2Kernels
import TestSupport

@Suite struct FiniteCheckTests {
    /// `values` as the little-endian bytes of `format`, starting `offset` bytes into the buffer
    /// (so that unaligned tensors are covered).
    static func bytes(_ bits: [UInt32], format: StoredFloatFormat, offset: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xAA, count: offset)
        for b in bits {
            if format == .float32 {
                withUnsafeBytes(of: b.littleEndian) { out.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: UInt16(b).littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    static func scan(_ bits: [UInt32], _ format: StoredFloatFormat, offset: Int = 0) -> (index: Int, kind: NonFiniteKind)? {
        let buffer = bytes(bits, format: format, offset: offset)
        return buffer.withUnsafeBytes { firstNonFinite($0.baseAddress! + offset, count: bits.count, format: format) }
    }

    /// Per format: finite extremes (largest, smallest subnormal, -0) and the non-finite values.
    static let formats: [(StoredFloatFormat, finite: [UInt32], nan: [UInt32], plus: UInt32, minus: UInt32)] = [
        (.float32, [Float.greatestFiniteMagnitude.bitPattern, (-Float.greatestFiniteMagnitude).bitPattern,
                    Float.leastNonzeroMagnitude.bitPattern, (-0.0 as Float).bitPattern, 0x3f80_0000],
         [Float.nan.bitPattern, 0x7f80_0001, 0xffc0_0000, Float.signalingNaN.bitPattern], 0x7f80_0000, 0xff80_0000),
        (.float16, [0x7bff, 0xfbff, 0x0001, 0x8000, 0x3c00], [0x7e00, 0x7c01, 0xfe00], 0x7c00, 0xfc00),
        (.bfloat16, [0x7f7f, 0xff7f, 0x0001, 0x8000, 0x3f80], [0x7fc0, 0x7f81, 0xffc0], 0x7f80, 0xff80),
    ]

    @Test("finds the first non-finite element, at every position around the chunk and lane edges, any alignment")
    func findsFirst() {
        var random = TestRandom(seed: 7)
        for (format, finite, nans, plus, minus) in Self.formats {
            let count = 9000 + 13  // two full chunks and a tail
            let base = (0..<count).map { _ in finite.randomElement(using: &random)! }
            #expect(Self.scan(base, format) == nil)
            #expect(Self.scan(base, format, offset: 1) == nil)
            for position in [0, 1, 15, 16, 31, 32, 4095, 4096, 4097, 8191, 8192, count - 1] {
                for (bad, kind) in [(nans.randomElement(using: &random)!, NonFiniteKind.nan),
                                    (plus, .positiveInfinity), (minus, .negativeInfinity)] {
                    var bits = base
                    bits[position] = bad
                    if position + 7 < count { bits[position + 7] = plus }  // a later one is not reported
                    for offset in [0, 3] {
                        let found = Self.scan(bits, format, offset: offset)
                        #expect(found?.index == position && found?.kind == kind, "\(format) \(position) \(offset)")
                    }
                }
            }
        }
    }

    @Test("every bit pattern of float16 and bfloat16, in either half of a vector lane, is found if and only if it is non-finite")
    func allHalves() {
        for (format, exponent, one) in [(StoredFloatFormat.float16, 0x7c00 as UInt16, 0x3c00 as UInt16), (.bfloat16, 0x7f80, 0x3f80)] {
            // one whole chunk, so that the vector scan sees the value, then a tail the scalar one sees
            var halves = [UInt16](repeating: one, count: 4096 + 3)
            for position in [4094, 4095, 4097] {
                for bits in 0...UInt16.max {
                    halves[position] = bits
                    let found = halves.withUnsafeBytes { firstNonFinite($0.baseAddress!, count: halves.count, format: format) }
                    let nonFinite = bits & exponent == exponent
                    if (found != nil) != nonFinite || (nonFinite && found?.index != position) {
                        Issue.record("\(format) \(String(bits, radix: 16)) at \(position): \(String(describing: found))")
                        return
                    }
                }
                halves[position] = one
            }
        }
    }

    @Test("a span of many chunks reports the first element, wherever the later ones are")
    func parallelParts() {
        let count = 3 << 20
        let values = [Float](repeating: 1, count: count)
        #expect(values.withUnsafeBytes { firstNonFinite($0.baseAddress!, count: count, format: .float32) } == nil)
        for (positions, first) in [([count - 1], count - 1), ([count / 2 + 5, count - 3], count / 2 + 5),
                                   ([7, count - 3], 7), ([count / 3], count / 3)] {
            var bad = values
            for p in positions { bad[p] = .nan }
            let found = bad.withUnsafeBytes { firstNonFinite($0.baseAddress!, count: count, format: .float32) }
            #expect(found?.index == first && found?.kind == .nan, "\(positions)")
        }
    }

    @Test func emptyIsFinite() {
        #expect(Self.scan([], .float32) == nil)
    }
}
