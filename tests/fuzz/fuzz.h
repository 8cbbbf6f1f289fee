/* Shared by the fuzz harnesses: the libFuzzer entry point each defines, and
 * a helper that puts the input in a file (the readers under test take paths,
 * so their file handling is fuzzed too). */
#ifndef VGGCL_FUZZ_H
#define VGGCL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to this process's scratch file for suffix (one per suffix, a
 * memory file) and returns its path, valid until the next call. Returns NULL
 * if it cannot be written. With size 0 it is an empty file for a writer. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);

#endif
