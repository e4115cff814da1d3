import Foundation
import Testing
@testable import GPT2

/// `Linear.apply` on both layouts of a Conv1D weight (as checkpoints store it, and transposed as
/// resident float32 weights are kept), through each path: one row, the small-batch kernels, sgemm.
@Suite struct LinearTests {
    @Test("y = x · W + b, or y += x · W + b, in either layout",
          arguments: [1, 3, 16, 40], [false, true])
    func apply(rows: Int, accumulate: Bool) {
        let (inputSize, outputSize) = (300, 130)
        var rng = SeededGenerator(seed: UInt64(rows * 2 + (accumulate ? 1 : 0)))
        let x = SmallBatchTests.random(rows * inputSize, &rng)
        let w = SmallBatchTests.random(inputSize * outputSize, &rng)  // [in, out]
        let bias = SmallBatchTests.random(outputSize, &rng)
        let y0 = SmallBatchTests.random(rows * outputSize, &rng)
        var wT = [Float](repeating: 0, count: w.count)                 // [out, in]
        for i in 0..<inputSize {
            for o in 0..<outputSize { wT[o * inputSize + i] = w[i * outputSize + o] }
        }
        var expected = [Double](repeating: 0, count: rows * outputSize)
        for m in 0..<rows {
            for o in 0..<outputSize {
                var sum = Double(bias[o]) + (accumulate ? Double(y0[m * outputSize + o]) : 0)
                for i in 0..<inputSize { sum += Double(x[m * inputSize + i]) * Double(w[i * outputSize + o]) }
                expected[m * outputSize + o] = sum
            }
        }
        for (weight, transposed) in [(w, false), (wT, true)] {
            var y = accumulate ? y0 : [Float](repeating: .nan, count: rows * outputSize)
            weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                let linear = Linear(weight: .float32(wp.baseAddress!), transposed: transposed, bias: bp.baseAddress!,
                                    inputSize: inputSize, outputSize: outputSize)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    linear.apply(xp.baseAddress!, rows: rows, into: yp.baseAddress!, accumulate: accumulate)
                } }
            } }
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "transposed: \(transposed), off by \(worst)")
        }
    }

    @Test("y = act(x · W + b) in either layout: fused into the row dots, or after the product",
          arguments: [1, 3, 16, 40], [Activation.geluNew, .gelu, .relu])
    func applyThenActivation(rows: Int, activation: Activation) {
        let (inputSize, outputSize) = (200, 150)
        var rng = SeededGenerator(seed: UInt64(100 + rows))
        let x = SmallBatchTests.random(rows * inputSize, &rng)
        let w = SmallBatchTests.random(inputSize * outputSize, &rng)  // [in, out]
        let bias = SmallBatchTests.random(outputSize, &rng)
        var wT = [Float](repeating: 0, count: w.count)                 // [out, in]
        for i in 0..<inputSize {
            for o in 0..<outputSize { wT[o * inputSize + i] = w[i * outputSize + o] }
        }
        func act(_ v: Double) -> Double {
            switch activation {
            case .geluNew: 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
            case .relu: max(v, 0)
            case .gelu: 0.5 * v * (1 + erf(v * 0.7071067811865476))
            }
        }
        var expected = [Double](repeating: 0, count: rows * outputSize)
        for m in 0..<rows {
            for o in 0..<outputSize {
                var sum = Double(bias[o])
                for i in 0..<inputSize { sum += Double(x[m * inputSize + i]) * Double(w[i * outputSize + o]) }
                expected[m * outputSize + o] = act(sum)
            }
        }
        for (weight, transposed) in [(w, false), (wT, true)] {
            var y = [Float](repeating: .nan, count: rows * outputSize)
            weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                let linear = Linear(weight: .float32(wp.baseAddress!), transposed: transposed, bias: bp.baseAddress!,
                                    inputSize: inputSize, outputSize: outputSize)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    linear.apply(xp.baseAddress!, rows: rows, into: yp.baseAddress!, then: activation)
                } }
            } }
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "transposed: \(transposed), off by \(worst)")
        }
    }
}
