// The one place that names the BLAS implementation: OpenBLAS's CBLAS on Linux,
// Accelerate's CBLAS on Apple platforms. Everything else calls these wrappers.
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
