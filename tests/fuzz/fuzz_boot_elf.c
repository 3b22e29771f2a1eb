/* libFuzzer: the ELF loader: program headers, PVH notes (PT_NOTE and SHT_NOTE),
 * physical and virtual entry points; ELF64 then boots as a Linux vmlinux,
 * ELF32 as PVH or multiboot (boot_elf.c, boot_multiboot.c).
 * Input layout and oracles: fuzz_boot.h. */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_boot_one(data, size, FZ_BOOT_ELF);
}
