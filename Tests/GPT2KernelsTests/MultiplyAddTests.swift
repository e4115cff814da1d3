import Testing
@testable import GPT2Kernels

@Suite struct MultiplyAddTests {
    @Test("multiplyAdd rounds once where KernelBuild says the build fuses, twice where it does not")
    func roundingMatchesTheBuild() {
        // b · c = 1 + 2⁻¹¹ + 2⁻²⁴ exactly; rounded to float it loses the 2⁻²⁴ (half an ulp, to even)
        let b = SIMD8<Float>(repeating: 1 + 0x1p-12)
        let a = SIMD8<Float>(repeating: -(1 + 0x1p-11))
        let separate = SIMD8<Float>(repeating: 0)
        let fused = SIMD8<Float>(repeating: 0x1p-24)
        #expect(a + b * b == separate)
        #expect(multiplyAdd(a, b, b) == (KernelBuild.fusedMultiplyAdd ? fused : separate))
    }
}
