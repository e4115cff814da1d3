// libFuzzer's driver entry point, for fuzz targets whose `main` is their own (SwiftPM links
// executables with `main` renamed to the module's entry point, so libFuzzer's `main` cannot be
// used). Defined in the fuzzer runtime that `-sanitize=fuzzer` links.
#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
