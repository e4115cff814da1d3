// The one place that names the BLAS implementation: OpenBLAS's CBLAS on Linux,
// Accelerate's CBLAS on Apple platforms. Everything else calls these row-major wrappers.
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import Foundation

package enum BLAS {
    /// `c[m, n] = alpha · op(a) · op(b) + beta · c`, all row-major; op transposes when asked.
    /// OpenBLAS runs single-threaded (see ``singleThreaded``) and the product is split across the
    /// engine's worker pool instead, so that one set of threads does all the parallel work: by
    /// rows of `c` when each thread gets enough of them to pay for packing all of op(b) itself
    /// (a prompt on a few cores), else by columns, each thread packing all of op(a).
    @inline(__always)
    package static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        func product(rows: Range<Int>, columns: Range<Int>) {
            // op(a)'s rows are a's rows, or its columns when transposed; likewise op(b)'s columns
            serialGemm(transA: transA, transB: transB, m: rows.count, n: columns.count, k: k, alpha: alpha,
                       a: transA ? a + rows.lowerBound : a + rows.lowerBound * lda, lda: lda,
                       b: transB ? b + columns.lowerBound * ldb : b + columns.lowerBound, ldb: ldb,
                       beta: beta, c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc)
        }
        if m >= 128 * parallelism {
            parallelRanges(m, minimumPerPart: 128) { rows in product(rows: rows, columns: 0..<n) }
        } else {
            parallelRanges(n, minimumPerPart: 64) { columns in product(rows: 0..<m, columns: columns) }
        }
    }

    /// ``gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` on the calling thread alone.
    @inline(__always)
    package static func serialGemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = singleThreaded
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y = alpha · op(a) · x + beta · y` with `a` row-major [m, n]; `trans` multiplies by aᵀ.
    /// The elements of `y` are split across the worker pool, as in ``gemm``.
    @inline(__always)
    package static func gemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                     beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        _ = singleThreaded
        parallelRanges(trans ? n : m, minimumPerPart: 256) { outputs in
            // y's elements are a's rows, or a's columns when transposed
            let part = Int32(outputs.count)
            if trans {
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), part, alpha, a + outputs.lowerBound, Int32(lda),
                            x, 1, beta, y + outputs.lowerBound, 1)
            } else {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, part, Int32(n), alpha, a + outputs.lowerBound * lda, Int32(lda),
                            x, 1, beta, y + outputs.lowerBound, 1)
            }
        }
    }

    /// OpenBLAS's own threads would spin (`sched_yield`) between its calls while the worker
    /// pool runs the kernels between them, two sets of busy threads on the same cores; and it
    /// serializes concurrent multi-threaded calls anyway. Set once, before the first product.
    package static let singleThreaded: Bool = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
        return true
    }()

    /// The library and kernel in use, e.g. `OpenBLAS 0.3.21 ... (Zen)`.
    package static var description: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        return "\(String(cString: openblas_get_config())) (\(coreName ?? ""))"
        #endif
    }

    /// The CPU core OpenBLAS chose its kernels for (e.g. `Haswell`); nil with Accelerate.
    package static var coreName: String? {
        #if canImport(Accelerate)
        nil
        #else
        String(cString: openblas_get_corename())
        #endif
    }

    /// Starts this program again, with the same arguments, when OpenBLAS took the CPU for a much
    /// older one; returns otherwise (and if the new start fails). OpenBLAS picks its kernels for
    /// the CPU it recognizes, once, as it loads; Debian's 0.3.21 takes CPUs newer than it (an
    /// Emerald Rapids Xeon) for a Prescott and runs SSE3 kernels, several times slower on prompts.
    /// Where it fell back like that, `OPENBLAS_CORETYPE` is unset and the CPU has AVX-512 or
    /// AVX2, the new start names the nearest core OpenBLAS knows (SKYLAKEX, HASWELL) in it. For
    /// executables, first thing: a library cannot change OpenBLAS's choice once it is loaded.
    package static func restartIfOpenBLASMisreadTheCPU() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil,
              ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom"].contains(coreName?.lowercased() ?? ""),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(flagLine.split(separator: " "))
        guard let core = flags.contains("avx512f") ? "SKYLAKEX" : flags.contains("avx2") ? "HASWELL" : nil else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // not started again: carry on as loaded
        #endif
    }
}
