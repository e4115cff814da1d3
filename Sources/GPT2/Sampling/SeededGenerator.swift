/// A small, fast, reproducible pseudo-random number generator: xoshiro256** (Blackman & Vigna)
/// with its 256-bit state filled from a 64-bit seed by SplitMix64, as its authors recommend.
///
/// The same seed always produces the same sequence, on every platform and Swift version (unlike
/// the standard library's `random(in:using:)` conversions, whose algorithms may change, the
/// sampler draws its numbers with ``nextUnitInterval()``). Not cryptographically secure.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose state is the first four outputs of SplitMix64 started at `seed`.
    public init(seed: UInt64) {
        var splitMix = SplitMix64(state: seed)
        s0 = splitMix.next()
        s1 = splitMix.next()
        s2 = splitMix.next()
        s3 = splitMix.next()
        // Four consecutive SplitMix64 outputs are distinct (its output function is a bijection),
        // so the state can never be all zero, the one state xoshiro must avoid.
    }

    /// Creates a generator with an explicit xoshiro256** state (for checking the reference test
    /// vectors). The state must not be all zero.
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256** state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, by: 45)
        return result
    }

    /// Returns a uniformly distributed `Double` in `[0, 1)` built from the top 53 bits of one
    /// call to ``next()``.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    @inline(__always)
    private func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// SplitMix64 (Steele, Lea & Flood; Vigna's reference constants), used only to expand a 64-bit
/// seed into xoshiro256** state.
struct SplitMix64: Sendable {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
