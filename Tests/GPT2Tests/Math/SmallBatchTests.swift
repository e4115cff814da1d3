import Testing
@testable import GPT2

/// The batched-decode kernels against plain loops, on sizes that leave remainders everywhere.
@Suite struct SmallBatchTests {
    static func random(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    @Test("y += x · W for W [in, out]", arguments: [(1, 8, 8), (1, 768, 2304), (2, 13, 19), (3, 768, 100), (5, 130, 1030), (16, 67, 33)])
    func accumulate(rows: Int, inputSize: Int, outputSize: Int) {
        var rng = SeededGenerator(seed: UInt64(rows * 1000 + inputSize))
        let x = Self.random(rows * inputSize, &rng), w = Self.random(inputSize * outputSize, &rng)
        let y0 = Self.random(rows * outputSize, &rng)
        var y = y0
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            smallBatchAccumulate(xp.baseAddress!, rows: rows, wp.baseAddress!, inputSize: inputSize, outputSize: outputSize, into: yp.baseAddress!)
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
        var rng = SeededGenerator(seed: 7)
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
                smallBatchAccumulate(xp.baseAddress!, rows: M, UnsafeRawPointer(wp.baseAddress!), Float32Format.self,
                                     inputSize: inputSize, outputSize: outputSize, into: yp.baseAddress!,
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
        var rng = SeededGenerator(seed: UInt64(rows * 7 + n))
        let x = Self.random(rows * n, &rng), w = Self.random(wRows * n, &rng)
        let y0 = adding ? Self.random(rows * wRows, &rng) : [Float](repeating: .nan, count: rows * wRows)
        var y = y0
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            smallBatchRowDots(xp.baseAddress!, rows: rows, wp.baseAddress!, wRows: wRows, n: n, into: yp.baseAddress!, adding: adding)
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
@Suite struct SmallBatchDeterminismTests {
    @Test("the same bits in every run")
    func sameBits() {
        var rng = SeededGenerator(seed: 42)
        let (M, n, out) = (3, 768, 2304)
        let x = SmallBatchTests.random(M * n, &rng), w = SmallBatchTests.random(n * out, &rng)
        let y0 = SmallBatchTests.random(M * out, &rng)
        func accumulate() -> [Float] {
            var y = y0
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                smallBatchAccumulate(xp.baseAddress!, rows: M, wp.baseAddress!, inputSize: n, outputSize: out, into: yp.baseAddress!)
            } } }
            return y
        }
        func rowDots() -> [Float] {
            var y = [Float](repeating: 0, count: M * out)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                smallBatchRowDots(xp.baseAddress!, rows: M, wp.baseAddress!, wRows: out, n: n, into: yp.baseAddress!)
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
