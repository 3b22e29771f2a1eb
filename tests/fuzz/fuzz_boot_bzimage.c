/* libFuzzer: the bzImage loader: the Linux boot protocol's setup header (version,
 * xloadflags, syssize, kernel_alignment, pref_address, init_size,
 * initrd_addr_max, cmdline_size) and the zero page (boot_linux.c).
 * Input layout and oracles: fuzz_boot.h. */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_boot_one(data, size, FZ_BOOT_BZIMAGE);
}
