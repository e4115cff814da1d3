import Foundation
import Testing
@testable import GPT2
import GPT2Kernels
import TestSupport

/// A `Linear` layer on both layouts of a Conv1D weight (as checkpoints store it, and transposed as
/// resident float32 weights are kept), through each path: one row, the row kernels, sgemm.
@Suite struct LinearTests {
    static func random(_ count: Int, _ rng: inout TestRandom) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    /// Random x [rows, in], W [in, out] (and its transpose [out, in]) and bias.
    struct Problem {
        let rows: Int, inputSize: Int, outputSize: Int
        let x: [Float], w: [Float], wT: [Float], bias: [Float]

        init(rows: Int, inputSize: Int, outputSize: Int, rng: inout TestRandom) {
            (self.rows, self.inputSize, self.outputSize) = (rows, inputSize, outputSize)
            x = LinearTests.random(rows * inputSize, &rng)
            w = LinearTests.random(inputSize * outputSize, &rng)
            bias = LinearTests.random(outputSize, &rng)
            var wT = [Float](repeating: 0, count: w.count)
            for i in 0..<inputSize {
                for o in 0..<outputSize { wT[o * inputSize + i] = w[i * outputSize + o] }
            }
            self.wT = wT
        }

        /// x · W + b in double precision, [rows, out].
        var exact: [Double] {
            var result = [Double](repeating: 0, count: rows * outputSize)
            for m in 0..<rows {
                for o in 0..<outputSize {
                    var sum = Double(bias[o])
                    for i in 0..<inputSize { sum += Double(x[m * inputSize + i]) * Double(w[i * outputSize + o]) }
                    result[m * outputSize + o] = sum
                }
            }
            return result
        }

        /// The layer with the weight in the given layout, applied onto `y`.
        func apply(transposed: Bool, to y: [Float], accumulate: Bool = false, then activation: Activation? = nil) -> [Float] {
            var y = y
            (transposed ? wT : w).withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                let weight = Matrix(.float32(wp.baseAddress!), layout: transposed ? .outputMajor : .inputMajor,
                                    inputSize: inputSize, outputSize: outputSize)
                let linear = Linear(name: "test", weight: weight, bias: bp.baseAddress!)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: rows, into: yp.baseAddress!, accumulate: accumulate, then: activation)
                } }
            } }
            return y
        }
    }

    @Test("y = x · W + b, or y += x · W + b, in either layout",
          arguments: [1, 3, 16, 40], [false, true])
    func apply(rows: Int, accumulate: Bool) {
        var rng = TestRandom(seed: UInt64(rows * 2 + (accumulate ? 1 : 0)))
        let problem = Problem(rows: rows, inputSize: 300, outputSize: 130, rng: &rng)
        let y0 = Self.random(rows * problem.outputSize, &rng)
        let expected = zip(problem.exact, y0).map { accumulate ? $0 + Double($1) : $0 }
        for transposed in [false, true] {
            let y = problem.apply(transposed: transposed, to: accumulate ? y0 : [Float](repeating: .nan, count: y0.count),
                                  accumulate: accumulate)
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "transposed: \(transposed), off by \(worst)")
        }
    }

    @Test("y = act(x · W + b) in either layout: fused into the row dots, or after the product",
          arguments: [1, 3, 16, 40], [Activation.geluNew, .gelu, .relu])
    func applyThenActivation(rows: Int, activation: Activation) {
        var rng = TestRandom(seed: UInt64(100 + rows))
        let problem = Problem(rows: rows, inputSize: 200, outputSize: 150, rng: &rng)
        let expected = problem.exact.map { v in
            switch activation {
            case .geluNew: 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
            case .gelu: 0.5 * v * (1 + erf(v * 0.7071067811865476))
            case .relu: max(v, 0)
            }
        }
        for transposed in [false, true] {
            let y = problem.apply(transposed: transposed, to: [Float](repeating: .nan, count: expected.count), then: activation)
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "transposed: \(transposed), off by \(worst)")
        }
    }
}
