import Foundation
import Testing
@testable import GPT2Kernels
import TestSupport

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

    @Test("the eight-lane fastExp and exponentials(_:minus:into:count:) give the scalar fastExp's results, bit for bit")
    func fastExpLanesMatchScalar() {
        var values = (0..<4001).map { Float(-100 + Double($0) * 0.05) } + [-.infinity, .infinity, 0, -0.0, 1e-30, -1e-30]
        values += (0..<1000).map { _ in Float.random(in: -90...90) }
        var e = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { x in
            e.withUnsafeMutableBufferPointer { exponentials(x.baseAddress!, minus: 0.25, into: $0.baseAddress!, count: x.count) }
        }
        for (i, x) in values.enumerated() {
            #expect(e[i].bitPattern == fastExp(x - 0.25).bitPattern, "x = \(x)")
        }
        for start in stride(from: 0, to: values.count - 8, by: 8) {
            let lanes = fastExp(SIMD8<Float>(values[start..<(start + 8)]))
            for lane in 0..<8 { #expect(lanes[lane].bitPattern == fastExp(values[start + lane]).bitPattern) }
        }
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

    @Test("layerNorm matches a double-precision reference", arguments: [1, 7, 16, 17, 768, 1030])
    func layerNormMatchesReference(width n: Int) {
        var rng = TestRandom(seed: UInt64(n))
        let rows = 3
        // row 0 around zero, row 1 far from zero with a small spread (cancellation), row 2 constant
        var x = (0..<n).map { _ in Float.random(in: -3...3, using: &rng) }
        x += (0..<n).map { _ in 1000 + Float.random(in: -0.01...0.01, using: &rng) }
        x += [Float](repeating: 2.5, count: n)
        let weight = (0..<n).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        let bias = (0..<n).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
        var out = [Float](repeating: .nan, count: rows * n)
        let epsilon: Float = 1e-5
        x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                layerNorm(xp.baseAddress!, op.baseAddress!, rows: rows, n: n, weight: wp.baseAddress!, bias: bp.baseAddress!, epsilon: epsilon)
            }
        } } }
        for r in 0..<rows {
            let row = x[(r * n)..<((r + 1) * n)].map(Double.init)
            let mean = row.reduce(0, +) / Double(n)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            for i in 0..<n {
                let expected = (row[i] - mean) / (variance + Double(epsilon)).squareRoot() * Double(weight[i]) + Double(bias[i])
                // row 1: float32 arithmetic near 1000 rounds by ~6e-5 (its ulp), which a spread of 0.01 magnifies
                let tolerance = r == 1 ? 2e-2 : 1e-5
                #expect(abs(Double(out[r * n + i]) - expected) <= tolerance * max(1, abs(expected)), "row \(r), element \(i)")
            }
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
