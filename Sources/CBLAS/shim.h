#ifndef GPT2_CBLAS_SHIM_H
#define GPT2_CBLAS_SHIM_H
// OpenBLAS's cblas.h also declares openblas_set_num_threads, openblas_get_config and
// openblas_get_corename, which the engine uses to report and control its BLAS.
#include <cblas.h>
#endif
