import Foundation
import Testing
@testable import GPT2

/// `Linear.apply` on both layouts of a Conv1D weight (as checkpoints store it, and transposed as
/// resident float32 weights are kept), through each path: one row, the small-batch kernels, sgemm.
@Suite struct LinearTests {
    /// Random x [rows, in], W [in, out] (and its transpose [out, in]) and bias.
    struct Problem {
        let rows: Int, inputSize: Int, outputSize: Int
        let x: [Float], w: [Float], wT: [Float], bias: [Float]

        init(rows: Int, inputSize: Int, outputSize: Int, rng: inout SeededGenerator) {
            (self.rows, self.inputSize, self.outputSize) = (rows, inputSize, outputSize)
            x = SmallBatchTests.random(rows * inputSize, &rng)
            w = SmallBatchTests.random(inputSize * outputSize, &rng)
            bias = SmallBatchTests.random(outputSize, &rng)
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

        /// `Linear.apply` with the weight in the given layout, onto `y`.
        func apply(transposed: Bool, to y: [Float], accumulate: Bool = false, then activation: Activation? = nil) -> [Float] {
            var y = y
            (transposed ? wT : w).withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                let linear = Linear(weight: .float32(wp.baseAddress!), transposed: transposed, bias: bp.baseAddress!,
                                    inputSize: inputSize, outputSize: outputSize)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    linear.apply(xp.baseAddress!, rows: rows, into: yp.baseAddress!, accumulate: accumulate, then: activation)
                } }
            } }
            return y
        }
    }

    @Test("y = x · W + b, or y += x · W + b, in either layout",
          arguments: [1, 3, 16, 40], [false, true])
    func apply(rows: Int, accumulate: Bool) {
        var rng = SeededGenerator(seed: UInt64(rows * 2 + (accumulate ? 1 : 0)))
        let problem = Problem(rows: rows, inputSize: 300, outputSize: 130, rng: &rng)
        let y0 = SmallBatchTests.random(rows * problem.outputSize, &rng)
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
        var rng = SeededGenerator(seed: UInt64(100 + rows))
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

    @Test("c_attn of a decode step writes queries into qkv and keys and values into each cache's next row",
          arguments: [1, 2, 5])
    func applyWritingKeysAndValues(rows M: Int) throws {
        let C = 40, layer = 1
        var rng = SeededGenerator(seed: UInt64(200 + M))
        let problem = Problem(rows: M, inputSize: C, outputSize: 3 * C, rng: &rng)
        let expected = problem.exact
        let caches = (0..<M).map { _ in KVCache(layerCount: 2, width: C, capacity: 8) }
        for (m, cache) in caches.enumerated() {  // different positions, sentinels everywhere
            cache.count = m + 1
            cache.keys.update(repeating: -7, count: 2 * 8 * C)
            cache.values.update(repeating: -7, count: 2 * 8 * C)
        }
        var qkv = [Float](repeating: .nan, count: M * 3 * C)
        for transposed in [false, true] {
            let wrote = (transposed ? problem.wT : problem.w).withUnsafeBufferPointer { wp in
                problem.bias.withUnsafeBufferPointer { bp in
                    let linear = Linear(weight: .float32(wp.baseAddress!), transposed: transposed, bias: bp.baseAddress!,
                                        inputSize: C, outputSize: 3 * C)
                    return problem.x.withUnsafeBufferPointer { xp in qkv.withUnsafeMutableBufferPointer { yp in
                        linear.applyWritingKeysAndValues(xp.baseAddress!, rows: M, into: yp.baseAddress!, caches: caches, layer: layer)
                    } }
                }
            }
            // only the row dots on transposed weights write this way; single rows go to sgemv in debug builds
            #expect(wrote == (transposed && !(M == 1 && singleRowThroughBLAS)))
            guard wrote else {
                let untouched = qkv.allSatisfy { $0.isNaN } && caches.allSatisfy { $0.keys[0] == -7 && $0.values[0] == -7 }
                #expect(untouched)
                continue
            }
            for (m, cache) in caches.enumerated() {
                for (part, base) in [(1, cache.keys), (2, cache.values)] {
                    for position in 0..<(2 * 8) {
                        let row = base + position * C
                        if position == 8 + cache.count {  // block `layer`, the next position
                            let worst = (0..<C).map { abs(Double(row[$0]) - expected[m * 3 * C + part * C + $0]) }.max()!
                            #expect(worst < 1e-4, "sequence \(m), part \(part): off by \(worst)")
                        } else {
                            #expect((0..<C).allSatisfy { row[$0] == -7 }, "sequence \(m): position \(position) written")
                        }
                    }
                }
                let queries = (0..<C).map { abs(Double(qkv[m * 3 * C + $0]) - expected[m * 3 * C + $0]) }.max()!
                #expect(queries < 1e-4)
                let untouched = qkv[(m * 3 * C + C)..<((m + 1) * 3 * C)].allSatisfy { $0.isNaN }
                #expect(untouched, "keys or values written into qkv")
            }
        }
    }
}
