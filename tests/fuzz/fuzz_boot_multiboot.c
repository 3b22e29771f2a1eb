/* libFuzzer: the raw multiboot loader: header search in the first 8 KiB, the
 * a.out kludge address fields and the multiboot information (boot_multiboot.c).
 * Input layout and oracles: fuzz_boot.h. */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_boot_one(data, size, FZ_BOOT_MULTIBOOT);
}
