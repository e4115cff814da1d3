/// `a + b · c`, lane by lane: one fused multiply-add instruction in builds that promise the target
/// has one (`-Xswiftc -DGPT2_FMA` with `-Xswiftc -target-cpu -Xswiftc native`, or any other target
/// with FMA), a multiply and an add otherwise.
///
/// Why a flag of its own: Swift code cannot ask at compile time which instructions the target has,
/// and without FMA in the target `addingProduct` on `SIMD8<Float>` compiles to eight calls of
/// `fmaf`. Why fuse: the attention tiles are bound by arithmetic, and fused they come close to the
/// core's FMA peak; decoding also comes a little closer to the memory's speed (Benchmarks/README.md,
/// "What was tried").
@inline(__always)
package func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
    #if GPT2_FMA
    a.addingProduct(b, c)
    #else
    a + b * c
    #endif
}

/// How this build compiled the engine's own Swift kernels.
package enum KernelBuild {
    /// Whether their multiply-adds are fused into FMA instructions: built with `-Xswiftc -DGPT2_FMA`
    /// (README, "Performance"). Results then differ from a build without it in the last bits.
    package static var fusedMultiplyAdd: Bool {
        #if GPT2_FMA
        true
        #else
        false
        #endif
    }

    /// Whether the int8 products widen each 16-bit pair of weights by shifts (each pair's first
    /// weight in its low byte: little-endian), without the sign-extending load that SSE4.1
    /// (every x86 CPU with FMA) and ARM64 have.
    package static var splitsInt8Pairs: Bool {
        #if GPT2_FMA || arch(arm64) || _endian(big)
        false
        #else
        true
        #endif
    }
}
