import Testing
@testable import GPT2Kernels
import TestSupport

/// Int8 matrices: the quantization against its definition, and the products (integer row dots
/// for a decode step, dequantized sgemm for a prompt) against double-precision loops over the
/// dequantized weights.
@Suite struct Int8Tests {
    /// `rows` × `n` weights quantized: (q, scales).
    static func quantized(_ w: [Float], rows: Int, n: Int) -> ([Int8], [Float]) {
        var q = [Int8](repeating: 0, count: rows * n), scales = [Float](repeating: .nan, count: rows * int8Blocks(rowLength: n))
        w.withUnsafeBufferPointer { wp in q.withUnsafeMutableBufferPointer { qp in scales.withUnsafeMutableBufferPointer { sp in
            quantizeRows(wp.baseAddress!, rows: rows, rowLength: n, sourceStride: n, into: qp.baseAddress!, scales: sp.baseAddress!)
        } } }
        return (q, scales)
    }

    @Test("each block of 64 gets its largest magnitude / 127 as scale; values round to the nearest step",
          arguments: [(3, 64), (2, 150), (5, 7)])
    func quantization(rows: Int, n: Int) {
        var rng = TestRandom(seed: UInt64(rows * 100 + n))
        var w = (0..<(rows * n)).map { _ in Float.random(in: -2...2, using: &rng) }
        for i in 0..<min(n, 64) { w[i] = 0 }  // a block of zeros (or the start of one)
        let (q, scales) = Self.quantized(w, rows: rows, n: n)
        let blocks = (n + 63) / 64
        for r in 0..<rows {
            for b in 0..<blocks {
                let range = (b * 64)..<min(n, b * 64 + 64)
                let largest = range.map { abs(w[r * n + $0]) }.max()!
                let scale = scales[r * blocks + b]
                #expect(scale == largest / 127, "row \(r), block \(b)")
                for i in range {
                    let value = Float(q[r * n + i]) * scale
                    #expect(abs(value - w[r * n + i]) <= scale / 2 * 1.0001, "row \(r), column \(i)")
                    #expect(abs(Int(q[r * n + i])) <= 127)
                }
                if largest > 0 {  // the largest magnitude is exactly ±127 steps
                    #expect(range.contains { abs(q[r * n + $0]) == 127 })
                }
            }
        }
        #expect(q[0..<min(n, 64)].allSatisfy { $0 == 0 } && scales[0] == 0)
    }

    /// Subnormal blocks have inexact scales, and a quotient past ±127 (or ±32767) would trap.
    @Test("blocks of subnormal values quantize without trapping, weights and inputs")
    func subnormals() {
        let n = 64
        let tiny: [Float] = (0..<n).map { i in
            let magnitude = Float(bitPattern: UInt32(1 + i * 37))  // subnormals
            return i % 2 == 0 ? magnitude : -magnitude
        }
        let (q, _) = Self.quantized(tiny, rows: 1, n: n)
        #expect(q.allSatisfy { abs(Int($0)) <= 127 })
        tiny.withUnsafeBufferPointer { xp in
            let rows = Int16Rows(xp.baseAddress!, rows: 1, rowLength: n)
            defer { rows.deallocate() }
            #expect((0..<n).allSatisfy { abs(Int(rows.values[$0])) <= 32767 })
        }
    }

    /// y = x · Wᵀ (+ bias) through `matmul`, W int8 [out, in]: up to 16 rows by the row dots, more by
    /// sgemm on dequantized blocks; sizes with a short last block and row counts not a multiple of 4.
    @Test("y = x · Wᵀ + bias for int8 W [out, in], decode and prompt paths",
          arguments: [(1, 64, 8), (1, 768, 2304), (3, 100, 37), (8, 768, 300), (16, 33, 5), (17, 96, 70), (40, 200, 4100)])
    func product(rows M: Int, n: Int, outputs: Int) {
        var rng = TestRandom(seed: UInt64(M * 7919 + n * 31 + outputs))
        let x = (0..<(M * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let w = (0..<(outputs * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let bias = (0..<outputs).map { _ in Float.random(in: -1...1, using: &rng) }
        let (q, scales) = Self.quantized(w, rows: outputs, n: n)
        let blocks = int8Blocks(rowLength: n)
        var y = [Float](repeating: .nan, count: M * outputs)
        x.withUnsafeBufferPointer { xp in q.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { sp in
            bias.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
                let matrix = Matrix(.int8(qp.baseAddress!, scales: sp.baseAddress!), layout: .outputMajor, inputSize: n, outputSize: outputs)
                matmul(xp.baseAddress!, rows: M, matrix, bias: bp.baseAddress!, into: DenseRows(yp.baseAddress!, width: outputs))
            } }
        } } }
        // a decode step rounds x to int16 steps of its block's largest magnitude / 32767: each
        // product may be off by half a step times the weight, beyond float rounding
        var worst = 0.0
        for m in 0..<M {
            for o in 0..<outputs {
                var (expected, allowed) = (Double(bias[o]), 1e-4)
                for i in 0..<n {
                    let weight = Double(q[o * n + i]) * Double(scales[o * blocks + i / 64])
                    expected += Double(x[m * n + i]) * weight
                    if M <= 16 {
                        let block = (i / 64 * 64)..<min(n, i / 64 * 64 + 64)
                        allowed += abs(weight) * Double(block.map { abs(x[m * n + $0]) }.max()!) / 32767 / 2
                    }
                }
                worst = max(worst, abs(Double(y[m * outputs + o]) - expected) - allowed)
            }
        }
        #expect(worst <= 0, "off by \(worst) beyond the allowance")
    }

    @Test("a NaN or an infinity in x comes out as NaN in the outputs it reaches, without trapping")
    func nonFiniteInput() {
        let (n, outputs) = (64, 8)
        let w = (0..<(outputs * n)).map { Float($0 % 7) - 3 }
        let (q, scales) = Self.quantized(w, rows: outputs, n: n)
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = [Float](repeating: 0.5, count: 2 * n)
            x[n + 40] = bad  // row 1, second block
            var y = [Float](repeating: 0, count: 2 * outputs)
            x.withUnsafeBufferPointer { xp in q.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { sp in
                y.withUnsafeMutableBufferPointer { yp in
                    let matrix = Matrix(.int8(qp.baseAddress!, scales: sp.baseAddress!), layout: .outputMajor, inputSize: n, outputSize: outputs)
                    matmul(xp.baseAddress!, rows: 2, matrix, into: DenseRows(yp.baseAddress!, width: outputs))
                }
            } } }
            let (finite, notANumber) = (y[0..<outputs].allSatisfy { $0.isFinite }, y[outputs...].allSatisfy { $0.isNaN })
            #expect(finite, "row 0 has no bad input")
            #expect(notANumber, "\(bad)")
        }
    }
}
