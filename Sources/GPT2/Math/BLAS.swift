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
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y = alpha · op(a) · x + beta · y` with `a` row-major [m, n]; `trans` multiplies by aᵀ.
    @inline(__always)
    static func gemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                     beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
}

/// Settings of the BLAS library that does the engine's matrix products.
public enum BLASBackend {
    /// Sets how many threads BLAS, and the engine's own kernels between its products, use
    /// (process-wide).
    /// Use at most the number of physical cores; more oversubscribes and slows down.
    public static func setThreadCount(_ count: Int) {
        kernelThreadCount.value = max(1, count)
        #if canImport(Accelerate)
        _ = count  // Accelerate manages its own threads.
        #else
        openblas_set_num_threads(Int32(max(1, count)))
        #endif
    }

    /// How many threads BLAS uses.
    public static var threadCount: Int {
        #if canImport(Accelerate)
        return 0
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

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
