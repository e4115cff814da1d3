import Testing
@testable import GPT2Kernels
import TestSupport

/// The row kernels against plain loops, on sizes that leave remainders everywhere.
@Suite struct RowKernelTests {
    static func random(_ count: Int, _ rng: inout TestRandom) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    @Test("y += x · W for W [in, out]", arguments: [(1, 8, 8), (1, 768, 2304), (2, 13, 19), (3, 768, 100), (5, 130, 1030), (16, 67, 33)])
    func accumulate(rows: Int, inputSize: Int, outputSize: Int) {
        var rng = TestRandom(seed: UInt64(rows * 1000 + inputSize))
        let x = Self.random(rows * inputSize, &rng), w = Self.random(inputSize * outputSize, &rng)
        let y0 = Self.random(rows * outputSize, &rng)
        var y = y0
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            accumulateRows(xp.baseAddress!, rows: rows, UnsafeRawPointer(wp.baseAddress!), Float32Format.self,
                           inputs: inputSize, outputs: outputSize, into: DenseRows(yp.baseAddress!, width: outputSize))
        } } }
        for m in 0..<rows {
            for c in 0..<outputSize {
                var expected = Double(y0[m * outputSize + c])
                for i in 0..<inputSize { expected += Double(x[m * inputSize + i]) * Double(w[i * outputSize + c]) }
                #expect(abs(Double(y[m * outputSize + c]) - expected) < 1e-4, "row \(m), column \(c)")
            }
        }
    }

    /// Chunks given, so that the partial sums are exercised on any number of cores (a one-core
    /// machine makes a single chunk): one of fewer than four rows, uneven column tails. Repeated,
    /// so that a partial sum that kept what its memory held before would show.
    @Test("y += x · W in given chunks")
    func accumulateInChunks() {
        let (M, inputSize, outputSize) = (2, 130, 1030)
        var rng = TestRandom(seed: 7)
        let x = Self.random(M * inputSize, &rng), w = Self.random(inputSize * outputSize, &rng)
        let y0 = Self.random(M * outputSize, &rng)
        var expected = y0.map(Double.init)
        for m in 0..<M {
            for c in 0..<outputSize {
                for i in 0..<inputSize { expected[m * outputSize + c] += Double(x[m * inputSize + i]) * Double(w[i * outputSize + c]) }
            }
        }
        for run in 0..<4 {
            var y = y0
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                accumulateRows(xp.baseAddress!, rows: M, UnsafeRawPointer(wp.baseAddress!), Float32Format.self,
                               inputs: inputSize, outputs: outputSize, into: DenseRows(yp.baseAddress!, width: outputSize),
                               chunks: [0..<40, 40..<43, 43..<91, 91..<130])
            } } }
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "run \(run): off by \(worst)")
        }
    }

    /// Without `adding`, y starts as NaNs, so an output left unwritten shows.
    @Test("y = x · Wᵀ, or y += x · Wᵀ, for W [rows, n]",
          arguments: [(1, 5, 8, false), (1, 5000, 96, false), (4, 2000, 64, false), (7, 1500, 19, false), (16, 33, 100, false),
                      (1, 768, 3072, true), (3, 2304, 768, true), (2, 5, 8, true), (16, 33, 100, true)])
    func rowDots(rows: Int, wRows: Int, n: Int, adding: Bool) {
        var rng = TestRandom(seed: UInt64(rows * 7 + n))
        let x = Self.random(rows * n, &rng), w = Self.random(wRows * n, &rng)
        let y0 = adding ? Self.random(rows * wRows, &rng) : [Float](repeating: .nan, count: rows * wRows)
        var y = y0
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            GPT2Kernels.rowDots(xp.baseAddress!, rows: rows, UnsafeRawPointer(wp.baseAddress!), Float32Format.self, outputs: wRows,
                                inputs: n, into: DenseRows(yp.baseAddress!, width: wRows), adding: adding)
        } } }
        for m in 0..<rows {
            for r in 0..<wRows {
                var expected = adding ? Double(y0[m * wRows + r]) : 0
                for i in 0..<n { expected += Double(x[m * n + i]) * Double(w[r * n + i]) }
                #expect(abs(Double(y[m * wRows + r]) - expected) < 1e-4, "row \(m), output \(r)")
            }
        }
    }
}

/// The threads take the chunks of a product in whatever order they get to them; the sums must not
/// depend on it, or the same prompt and seed could give different text from one run to the next.
@Suite struct RowKernelDeterminismTests {
    @Test("the same bits in every run")
    func sameBits() {
        var rng = TestRandom(seed: 42)
        let (M, n, out) = (3, 768, 2304)
        let x = RowKernelTests.random(M * n, &rng), w = RowKernelTests.random(n * out, &rng)
        let y0 = RowKernelTests.random(M * out, &rng)
        func accumulate() -> [Float] {
            var y = y0
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                accumulateRows(xp.baseAddress!, rows: M, UnsafeRawPointer(wp.baseAddress!), Float32Format.self,
                               inputs: n, outputs: out, into: DenseRows(yp.baseAddress!, width: out))
            } } }
            return y
        }
        func rowDots() -> [Float] {
            var y = [Float](repeating: 0, count: M * out)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                GPT2Kernels.rowDots(xp.baseAddress!, rows: M, UnsafeRawPointer(wp.baseAddress!), Float32Format.self, outputs: out,
                                    inputs: n, into: DenseRows(yp.baseAddress!, width: out))
            } } }
            return y
        }
        func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).count { $0.bitPattern != $1.bitPattern } }
        let (firstAccumulate, firstRowDots) = (accumulate(), rowDots())
        for run in 1..<20 {
            #expect(differing(accumulate(), firstAccumulate) == 0, "accumulate, run \(run): values differ from run 0")
            #expect(differing(rowDots(), firstRowDots) == 0, "row dots, run \(run): values differ from run 0")
        }
    }
}

/// `matmul`, the one entry point, on every path it can take: float32 and float16 elements, both
/// layouts, row counts on both sides of the row kernels' limit, a dense destination and one split
/// three ways into scattered rows (as `c_attn` writes queries, keys and values).
@Suite struct MatmulTests {
    /// x [M, n], W [n, out] and its transpose, bias [out]; W rounded to float16 so that both
    /// formats compute the same product.
    struct Problem {
        let M: Int, n: Int, out: Int
        let x: [Float], w: [Float], wT: [Float], bias: [Float]

        init(M: Int, n: Int, out: Int, seed: UInt64) {
            var rng = TestRandom(seed: seed)
            (self.M, self.n, self.out) = (M, n, out)
            x = RowKernelTests.random(M * n, &rng)
            w = RowKernelTests.random(n * out, &rng).map { floatFromHalf(halfFromFloat($0)) }
            bias = RowKernelTests.random(out, &rng)
            var wT = [Float](repeating: 0, count: w.count)
            for i in 0..<n { for o in 0..<out { wT[o * n + i] = w[i * out + o] } }
            self.wT = wT
        }

        /// y0 + x · W + bias in double precision.
        func expected(adding y0: [Float]?) -> [Double] {
            (0..<(M * out)).map { e in
                let (m, o) = (e / out, e % out)
                var sum = Double(bias[o]) + (y0.map { Double($0[e]) } ?? 0)
                for i in 0..<n { sum += Double(x[m * n + i]) * Double(w[i * out + o]) }
                return sum
            }
        }

        /// Calls `body` with the matrix in the given format and layout.
        func withMatrix<R>(half: Bool, layout: Matrix.Layout, _ body: (Matrix) -> R) -> R {
            let values = layout == .inputMajor ? w : wT
            if half {
                let halves = values.map(halfFromFloat)
                return halves.withUnsafeBufferPointer {
                    body(Matrix(.float16($0.baseAddress!, scale: 1), layout: layout, inputSize: n, outputSize: out))
                }
            }
            return values.withUnsafeBufferPointer {
                body(Matrix(.float32($0.baseAddress!), layout: layout, inputSize: n, outputSize: out))
            }
        }
    }

    static let paths: [(half: Bool, layout: Matrix.Layout)] = [(false, .inputMajor), (false, .outputMajor), (true, .inputMajor), (true, .outputMajor)]

    @Test("dense: y = x · W + b, or y += x · W + b", arguments: [1, 3, 16, 17, 40], [false, true])
    func dense(rows M: Int, adding: Bool) {
        let problem = Problem(M: M, n: 72, out: 96, seed: UInt64(M * 2 + (adding ? 1 : 0)))
        var rng = TestRandom(seed: 99)
        let y0 = RowKernelTests.random(M * problem.out, &rng)
        let expected = problem.expected(adding: adding ? y0 : nil)
        for path in Self.paths {
            // without `adding`, y starts as NaNs, so an output left unwritten shows
            var y = adding ? y0 : [Float](repeating: .nan, count: y0.count)
            problem.withMatrix(half: path.half, layout: path.layout) { w in
                problem.x.withUnsafeBufferPointer { xp in problem.bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        matmul(xp.baseAddress!, rows: M, w, bias: bp.baseAddress!, into: DenseRows(yp.baseAddress!, width: problem.out),
                               adding: adding)
                    }
                } }
            }
            let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-4, "\(path): off by \(worst)")
        }
    }

    /// Float16 matrices as the loader keeps them where halves are widened in software: scaled
    /// up by 2ᵏ (``scaleHalvesUp(_:count:)``) with a scale of 2⁻ᵏ; the decode kernels fold that
    /// and the widening's 2¹¹² into x, or leave x whole to sgemm when that would overflow it.
    @Test("float16 weights scaled up, with x ordinary or near float's limit, give x · W + b",
          arguments: [1, 4, 16, 20], [Float(1), 0x1p100])
    func scaledHalves(rows M: Int, xScale: Float) {
        let problem = Problem(M: M, n: 43, out: 45, seed: UInt64(M))  // not multiples of 8: the scalar tails too
        let x = problem.x.map { $0 * xScale }
        let expected = (0..<(M * problem.out)).map { e in
            let (m, o) = (e / problem.out, e % problem.out)
            return (0..<problem.n).reduce(Double(problem.bias[o])) { $0 + Double(x[m * problem.n + $1]) * Double(problem.w[$1 * problem.out + o]) }
        }
        for layout in [Matrix.Layout.inputMajor, .outputMajor] {
            var halves = (layout == .inputMajor ? problem.w : problem.wT).map(halfFromFloat)
            let scale = scaleHalvesUp(&halves, count: halves.count)
            #expect(scale == 0x1p-10)
            var y = [Float](repeating: .nan, count: M * problem.out)
            halves.withUnsafeBufferPointer { hp in x.withUnsafeBufferPointer { xp in problem.bias.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    let w = Matrix(.float16(hp.baseAddress!, scale: scale), layout: layout, inputSize: problem.n, outputSize: problem.out)
                    matmul(xp.baseAddress!, rows: M, w, bias: bp.baseAddress!, into: DenseRows(yp.baseAddress!, width: problem.out))
                }
            } } }
            let worst = zip(y, expected).map { abs(Double($0) - $1) / Double(xScale) }.max()!
            #expect(worst < 1e-4, "\(layout): off by \(worst) (× \(xScale))")
        }
    }

    /// A sequence's outputs must not depend on the sequences decoding beside it (the row kernels
    /// take four rows of x at a time, and the rest in twos or one by one): each row of a 15-row
    /// product, bit for bit, equals the same row alone, in float32, float16 and int8, both layouts.
    @Test("each row's outputs are the same bits whichever rows run with it")
    func rowsIndependent() {
        let problem = Problem(M: 15, n: 100, out: 70, seed: 5)
        func product(_ w: Matrix, rows: Range<Int>) -> [Float] {
            var y = [Float](repeating: .nan, count: rows.count * problem.out)
            problem.x.withUnsafeBufferPointer { xp in problem.bias.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    matmul(xp.baseAddress! + rows.lowerBound * problem.n, rows: rows.count, w, bias: bp.baseAddress!,
                           into: DenseRows(yp.baseAddress!, width: problem.out))
                }
            } }
            return y
        }
        func check(_ w: Matrix, _ name: String) {
            let together = product(w, rows: 0..<problem.M)
            for m in 0..<problem.M {
                let alone = product(w, rows: m..<(m + 1))
                let row = together[(m * problem.out)..<((m + 1) * problem.out)]
                #expect(zip(alone, row).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name): row \(m) differs from it alone")
            }
        }
        for path in Self.paths {
            problem.withMatrix(half: path.half, layout: path.layout) { check($0, "\(path)") }
        }
        let (q, scales) = Int8Tests.quantized(problem.wT, rows: problem.out, n: problem.n)
        q.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { sp in
            check(Matrix(.int8(qp.baseAddress!, scales: sp.baseAddress!), layout: .outputMajor, inputSize: problem.n,
                         outputSize: problem.out), "int8")
        } }
    }

    /// A prompt's float16 and int8 products widen each thread's outputs a block of 256 inputs at
    /// a time and add up the blocks' sgemm products: sizes with a short last block of inputs (for
    /// int8, part of a block of scales), outputs not a multiple of the threads' groups of 64, and
    /// a matrix whose shares come in parts of 512 outputs, the last one short (on up to 4 threads).
    @Test("prompt products of float16 and int8 weights, in blocks of inputs and outputs, give x · W + b",
          arguments: [(17, 600, 130), (40, 300, 3 * 64 + 5), (17, 300, 4 * 512 + 100)])
    func widenedBlocks(rows M: Int, inputSize n: Int, outputSize out: Int) {
        let problem = Problem(M: M, n: n, out: out, seed: UInt64(n + out))
        var rng = TestRandom(seed: 7)
        let y0 = RowKernelTests.random(M * out, &rng)
        /// y0 + x · W + bias, or without y0 and bias (y starting as NaNs, each block after the first
        /// must add to it).
        func product(_ w: Matrix, adding: Bool) -> [Float] {
            var y = adding ? y0 : [Float](repeating: .nan, count: M * out)
            problem.x.withUnsafeBufferPointer { xp in problem.bias.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    matmul(xp.baseAddress!, rows: M, w, bias: adding ? bp.baseAddress! : nil, into: DenseRows(yp.baseAddress!, width: out),
                           adding: adding)
                }
            } }
            return y
        }
        /// The same in double precision, W [in, out] given by `weight(i, o)`.
        func expected(adding: Bool, _ weight: (Int, Int) -> Double) -> [Double] {
            (0..<(M * out)).map { e in
                let (m, o) = (e / out, e % out)
                let start = adding ? Double(y0[e]) + Double(problem.bias[o]) : 0
                return (0..<n).reduce(start) { $0 + Double(problem.x[m * n + $1]) * weight($1, o) }
            }
        }
        /// The largest error; an output left unwritten (NaN) counts as infinite.
        func worst(_ y: [Float], _ expected: [Double]) -> Double {
            zip(y, expected).map { $0.isNaN ? .infinity : abs(Double($0) - $1) }.max()!
        }

        let (q, scales) = Int8Tests.quantized(problem.wT, rows: out, n: n)
        let blocks = int8Blocks(rowLength: n)
        for adding in [true, false] {
            let exact = expected(adding: adding) { Double(problem.w[$0 * out + $1]) }
            for layout in [Matrix.Layout.inputMajor, .outputMajor] {
                let y = problem.withMatrix(half: true, layout: layout) { product($0, adding: adding) }
                #expect(worst(y, exact) < 1e-3, "float16 \(layout), adding \(adding): off by \(worst(y, exact))")
            }
            let dequantized = expected(adding: adding) { i, o in Double(q[o * n + i]) * Double(scales[o * blocks + i / int8BlockSize]) }
            let y = q.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { sp in
                product(Matrix(.int8(qp.baseAddress!, scales: sp.baseAddress!), layout: .outputMajor, inputSize: n, outputSize: out),
                        adding: adding)
            } }
            #expect(worst(y, dequantized) < 1e-3, "int8, adding \(adding): off by \(worst(y, dequantized))")
        }
    }

    @Test("split: three parts into scattered rows, nothing else written", arguments: [1, 2, 5, 16, 20, 33])
    func split(rows M: Int) {
        let width = 40
        let problem = Problem(M: M, n: 56, out: 3 * width, seed: UInt64(300 + M))
        let expected = problem.expected(adding: nil)
        for path in Self.paths {
            // part 0 dense in `first`; parts 1 and 2 in two "caches" of 64 rows, row m at 2m + 1 and
            // 63 - m: runs of one row each, so every run and part boundary is exercised
            var first = [Float](repeating: .nan, count: M * width)
            var keys = [Float](repeating: -7, count: 64 * width), values = keys
            let slots = (0..<M).map { m in m < 8 ? 2 * m + 1 : 63 - m }
            first.withUnsafeMutableBufferPointer { fp in keys.withUnsafeMutableBufferPointer { k in
                values.withUnsafeMutableBufferPointer { v in
                    var rows: [UnsafeMutablePointer<Float>] = (0..<M).map { fp.baseAddress! + $0 * width }
                    rows += slots.map { k.baseAddress! + $0 * width } + slots.map { v.baseAddress! + $0 * width }
                    problem.withMatrix(half: path.half, layout: path.layout) { w in
                        problem.x.withUnsafeBufferPointer { xp in problem.bias.withUnsafeBufferPointer { bp in
                            rows.withUnsafeBufferPointer { rp in
                                matmul(xp.baseAddress!, rows: M, w, bias: bp.baseAddress!,
                                       into: SplitRows(rows: rp.baseAddress!, rowCount: M, parts: 3, partWidth: width, rowStride: width))
                            }
                        } }
                    }
                }
            } }
            for m in 0..<M {
                for c in 0..<width {
                    let got = [first[m * width + c], keys[slots[m] * width + c], values[slots[m] * width + c]]
                    for part in 0..<3 {
                        let error = abs(Double(got[part]) - expected[m * 3 * width + part * width + c])
                        #expect(error < 1e-4, "\(path) row \(m) part \(part) column \(c): off by \(error)")
                    }
                }
            }
            for cache in [keys, values] {
                let untouched = (0..<64).filter { !slots.contains($0) }.allSatisfy { r in (0..<width).allSatisfy { cache[r * width + $0] == -7 } }
                #expect(untouched, "\(path): a cache row outside the destination was written")
            }
        }
    }
}
