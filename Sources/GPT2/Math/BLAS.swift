// The one place that names the BLAS implementation: OpenBLAS's CBLAS on Linux,
// Accelerate's CBLAS on Apple platforms. Everything else calls these row-major wrappers.
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import Foundation

enum BLAS {
    /// `c[m, n] = alpha · op(a) · op(b) + beta · c`, all row-major; op transposes when asked.
    /// OpenBLAS runs single-threaded (see ``singleThreaded``) and the product is split across the
    /// engine's worker pool instead, so that one set of threads does all the parallel work: by
    /// rows of `c` when each thread gets enough of them to pay for packing all of op(b) itself
    /// (a prompt on a few cores), else by columns, each thread packing all of op(a).
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = singleThreaded
        func product(rows: Range<Int>, columns: Range<Int>) {
            // op(a)'s rows are a's rows, or its columns when transposed; likewise op(b)'s columns
            let aPart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bPart = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(columns.count), Int32(k), alpha, aPart, Int32(lda), bPart, Int32(ldb),
                        beta, c + rows.lowerBound * ldc + columns.lowerBound, Int32(ldc))
        }
        if m >= 128 * parallelism {
            parallelRanges(m, minimumPerPart: 128) { rows in product(rows: rows, columns: 0..<n) }
        } else {
            parallelRanges(n, minimumPerPart: 64) { columns in product(rows: 0..<m, columns: columns) }
        }
    }

    /// `y = alpha · op(a) · x + beta · y` with `a` row-major [m, n]; `trans` multiplies by aᵀ.
    /// The elements of `y` are split across the worker pool, as in ``gemm``.
    @inline(__always)
    static func gemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1,
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
    static let singleThreaded: Bool = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
        return true
    }()
}

/// Settings of the BLAS library that does the engine's matrix products.
public enum BLASBackend {
    /// Sets how many threads the engine's matrix products and kernels use (process-wide). The
    /// engine runs OpenBLAS itself single-threaded and splits each product across its own worker
    /// pool, one thread per physical core: counts above that act as that.
    public static func setThreadCount(_ count: Int) {
        kernelThreadCount.value = max(1, count)
    }

    /// How many threads the engine's products and kernels use.
    public static var threadCount: Int { kernelThreadCount.value }

    /// Physical cores of this machine (SMT siblings counted once): the thread count that does not
    /// oversubscribe the cores for compute-bound matrix products. Falls back to the logical count.
    public static var physicalCoreCount: Int {
        #if os(Linux)
        var cores = Set<String>()
        for cpu in 0..<ProcessInfo.processInfo.activeProcessorCount {
            let topology = "/sys/devices/system/cpu/cpu\(cpu)/topology/"
            guard let core = try? String(contentsOfFile: topology + "core_id", encoding: .utf8),
                  let package = try? String(contentsOfFile: topology + "physical_package_id", encoding: .utf8) else {
                return ProcessInfo.processInfo.activeProcessorCount
            }
            cores.insert(package.trimmingCharacters(in: .whitespacesAndNewlines) + ":" + core.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return max(1, cores.count)
        #else
        return ProcessInfo.processInfo.activeProcessorCount
        #endif
    }

    /// The library and kernel in use, e.g. `OpenBLAS 0.3.21 ... (Zen)`.
    public static var description: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let config = String(cString: openblas_get_config())
        let core = String(cString: openblas_get_corename())
        return "\(config) (\(core))"
        #endif
    }
}
