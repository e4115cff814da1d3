import GPT2Kernels

/// How many threads the engine computes with, for every model of the process: the matrix products
/// (OpenBLAS runs single-threaded, its products split across the engine's own threads), attention
/// and the other kernels.
public enum ComputeThreads {
    /// Threads in use now; default: ``physicalCoreCount``. Set it before generating (it applies
    /// to every model of the process). Values below 1 act as 1; values above the physical cores
    /// act as the physical cores, since the engine keeps one thread per core.
    public static var count: Int {
        get { KernelThreads.count }
        set { KernelThreads.count = newValue }
    }

    /// Physical cores of this machine (SMT siblings counted once): the count that does not
    /// oversubscribe the cores for compute-bound matrix products.
    public static var physicalCoreCount: Int { KernelThreads.physicalCoreCount }
}
