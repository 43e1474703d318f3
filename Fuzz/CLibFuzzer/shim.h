#ifndef AS4GW_CLIBFUZZER_SHIM_H
#define AS4GW_CLIBFUZZER_SHIM_H
#include <stddef.h>
#include <stdint.h>
// libFuzzer's driver, linked in by -sanitize=fuzzer (the toolchain ships no header for it).
// Nothing to link here: without that flag the fuzz targets are not part of the package at all.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
