#ifndef GPT2_CBLAS_SHIM_H
#define GPT2_CBLAS_SHIM_H
// OpenBLAS's cblas.h also declares openblas_set_num_threads, openblas_get_config and
// openblas_get_corename, which the engine uses to report and control its BLAS.
#include <cblas.h>

// Not BLAS: a hint that the cache line holding `p` will be read soon (never faults, even outside
// mapped memory), for the decode kernels (`prefetch` in Memory.swift); Swift has no prefetch of its own.
static inline void gpt2_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
