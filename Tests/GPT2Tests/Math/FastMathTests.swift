import Foundation
import Testing
@testable import GPT2

@Suite struct FastMathTests {
    @Test("fastExp is within 3e-7 relative of exp over the range softmax and GELU use")
    func fastExpAccuracy() {
        var worst: Double = 0
        for i in 0...200_000 {
            let x = Float(-87 + Double(i) * (175.0 / 200_000))
            let exact = exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - exact) / exact)
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
    }

    @Test func fastExpClampsInsteadOfOverflowing() {
        #expect(fastExp(-1000) >= 0 && fastExp(-1000) < 1e-37)
        #expect(fastExp(1000).isFinite)
        #expect(fastExp(0) == 1)
    }

    @Test func geluNewMatchesTheTanhFormula() {
        let values = stride(from: Float(-12), through: 12, by: 0.01).map { $0 }
        var out = values
        out.withUnsafeMutableBufferPointer { activate($0.baseAddress!, count: $0.count, .geluNew) }
        for (x, y) in zip(values, out) {
            let expected = 0.5 * Double(x) * (1 + tanh(0.7978845608028654 * (Double(x) + 0.044715 * pow(Double(x), 3))))
            #expect(abs(Double(y) - expected) <= 2e-6 * max(1, abs(expected)), "x = \(x)")
        }
    }

    @Test func softmaxSumsToOneAndMatchesExp() {
        var x: [Float] = [1, 2, 3, -4, 1000, 999]
        x.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, count: $0.count) }
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
        #expect(abs(Double(x[5] / x[4]) - exp(-1.0)) < 1e-6)
    }

    @Test func logSoftmaxIsStable() {
        let x: [Float] = [0, 1000, 1000]
        let value = x.withUnsafeBufferPointer { logSoftmax($0.baseAddress!, count: 3, at: 1) }
        #expect(abs(value - log(0.5)) < 1e-6)
    }
}
