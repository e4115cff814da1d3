/// Where a loaded model's float32 weights live.
public enum WeightResidency: Sendable, Equatable {
    /// Used in place from a read-only memory map of the files: loading takes milliseconds and the
    /// pages are shared with the page cache and with other processes mapping the same files.
    /// The default.
    case mapped
    /// Copied into the process's own memory, in 2 MB-aligned buffers that Linux backs with
    /// transparent huge pages. Loading reads the whole file (0.1–1 s for GPT-2 124M on the
    /// development VM); decoding, which streams every weight once per token, then runs a few
    /// percent faster (fewer TLB misses; see `Benchmarks/README.md`). For long-running processes.
    case resident
}
