import Testing
@testable import GPT2Kernels
import TestSupport

/// The BLAS wrappers split each product across the worker pool (by rows or by columns of the
/// result); every split, transposition and leading dimension against plain loops in Double.
@Suite struct BLASTests {
    /// Shapes for each split: many rows (split by rows), few rows and many columns (by columns),
    /// and ones too small to split.
    @Test("c = alpha · op(a) · op(b) + beta · c", arguments: [(600, 40, 17), (5, 300, 33), (3, 7, 5)], [false, true])
    func gemm(shape: (m: Int, n: Int, k: Int), transposeA: Bool) {
        let (m, n, k) = shape
        for transposeB in [false, true] {
            var rng = TestRandom(seed: UInt64(m * 31 + n * 7 + k) + (transposeA ? 1 : 0) + (transposeB ? 2 : 0))
            // op(a) is [m, k] and op(b) [k, n]; stored transposed when asked, with padded rows
            let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
            let a = RowKernelTests.random((transposeA ? k : m) * lda, &rng)
            let b = RowKernelTests.random((transposeB ? n : k) * ldb, &rng)
            let c0 = RowKernelTests.random(m * ldc, &rng)
            var c = c0
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                BLAS.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                          a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: 2, c: c.baseAddress!, ldc: ldc)
            } } }
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<k {
                        sum += Double(transposeA ? a[p * lda + i] : a[i * lda + p]) * Double(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    }
                    worst = max(worst, abs(Double(c[i * ldc + j]) - (0.5 * sum + 2 * Double(c0[i * ldc + j]))))
                }
                // the padding between rows is left alone
                for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j]) }
            }
            #expect(worst < 1e-4, "transB \(transposeB): max difference \(worst)")
        }
    }

    @Test("y = alpha · op(a) · x + beta · y", arguments: [(1100, 70), (70, 1100), (3, 4)], [false, true])
    func gemv(shape: (m: Int, n: Int), transpose: Bool) {
        let (m, n) = shape
        var rng = TestRandom(seed: UInt64(m * 13 + n) + (transpose ? 1 : 0))
        let lda = n + 3
        let a = RowKernelTests.random(m * lda, &rng)
        let x = RowKernelTests.random(transpose ? m : n, &rng)
        let y0 = RowKernelTests.random(transpose ? n : m, &rng)
        var y = y0
        a.withUnsafeBufferPointer { a in x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { y in
            BLAS.gemv(trans: transpose, m: m, n: n, alpha: 0.5, a: a.baseAddress!, lda: lda, x: x.baseAddress!, beta: 2, y: y.baseAddress!)
        } } }
        for i in 0..<y.count {
            var sum = 0.0
            for p in 0..<x.count { sum += Double(transpose ? a[p * lda + i] : a[i * lda + p]) * Double(x[p]) }
            #expect(abs(Double(y[i]) - (0.5 * sum + 2 * Double(y0[i]))) < 1e-4, "element \(i)")
        }
    }
}
