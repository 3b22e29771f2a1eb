/* Kernel loading: file reading, format detection, the memory map and the
 * helpers the format loaders share (see boot.h, boot_internal.h). */
#include "base/err.h"
#include "boot/boot_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int boot_err(struct boot_ctx *c, enum boot_who who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(c->err, c->errlen, fmt, ap);
	va_end(ap);
	const char *name = who == BOOT_WHO_KERNEL ? c->kname : c->iname;
	if (who == BOOT_WHO_CMDLINE)
		return err_prefix(c->err, c->errlen, "kernel command line: ");
	return err_prefix(c->err, c->errlen, "%s%s%s: ", who == BOOT_WHO_KERNEL ? "kernel" : "initrd",
			  name ? " " : "", name ? name : "");
}

int boot_put_str(struct boot_ctx *c, uint64_t *cursor, const char *s, uint64_t *addr)
{
	size_t len = strlen(s) + 1;
	uint64_t area_end = BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX;
	if (len > area_end - *cursor)
		return boot_err(c, BOOT_WHO_CMDLINE,
				"%zu bytes (with the initrd name) do not fit in the %llu-byte command-line area",
				len + (size_t)(*cursor - BOOT_CMDLINE_ADDR),
				(unsigned long long)BOOT_CMDLINE_MAX);
	if (gm_write(c->m, *cursor, s, len))
		return boot_err(c, BOOT_WHO_CMDLINE, "cannot write it at 0x%" PRIx64, *cursor);
	*addr = *cursor;
	*cursor += len;
	return 0;
}

int boot_put_initrd(struct boot_ctx *c, uint64_t kernel_end, uint64_t limit, uint64_t *addr)
{
	*addr = 0;
	if (!c->ilen)
		return 0;
	if (limit > c->low_end)
		limit = c->low_end;
	uint64_t lo = (kernel_end + 0xfff) & ~0xfffULL;
	if (c->ilen > limit || ((limit - c->ilen) & ~0xfffULL) < lo)
		return boot_err(c, BOOT_WHO_INITRD,
				"%zu bytes do not fit between the kernel end (0x%" PRIx64
				") and 0x%" PRIx64 " in %" PRIu64 " MiB of guest memory: give the guest more memory",
				c->ilen, lo, limit, c->m->ram_size >> 20);
	*addr = (limit - c->ilen) & ~0xfffULL;
	if (gm_write(c->m, *addr, c->initrd, c->ilen))
		return boot_err(c, BOOT_WHO_INITRD, "cannot write it at 0x%" PRIx64, *addr);
	return 0;
}

int boot_place(struct boot_ctx *c, uint64_t kernel_end, uint64_t initrd_limit, bool with_name,
	       struct boot_placed *p)
{
	uint64_t cursor = BOOT_CMDLINE_ADDR;
	*p = (struct boot_placed){ 0 };
	if (boot_put_str(c, &cursor, c->cmdline, &p->cmdline) ||
	    boot_put_initrd(c, kernel_end, initrd_limit, &p->initrd) ||
	    (with_name && c->ilen && boot_put_str(c, &cursor, c->initrd_name, &p->initrd_name)))
		return -1;
	return 0;
}

int boot_hand_over(struct boot_ctx *c, const char *what, const void *b, size_t len,
		   enum boot_protocol proto, enum boot_cpu_mode mode, uint64_t entry,
		   uint64_t kernel_end, struct boot_entry *out)
{
	if (gm_write(c->m, BOOT_ZERO_PAGE_ADDR, b, len))
		return boot_err(c, BOOT_WHO_KERNEL, "cannot write the %s at 0x%llx", what,
				(unsigned long long)BOOT_ZERO_PAGE_ADDR);
	out->proto = proto;
	out->mode = mode;
	out->rip = entry;
	out->rsp = BOOT_STACK_TOP;
	out->kernel_end = kernel_end;
	return 0;
}

int boot_copy(struct boot_ctx *c, uint64_t addr, const uint8_t *src, uint64_t filesz,
	      uint64_t memsz)
{
	uint8_t *dst = gm_ptr(c->m, addr, memsz);
	if (!dst || filesz > memsz)
		return boot_err(c, BOOT_WHO_KERNEL, "internal error: cannot write 0x%" PRIx64 "+0x%" PRIx64,
				addr, memsz);
	memcpy(dst, src, filesz);
	memset(dst + filesz, 0, memsz - filesz);
	return 0;
}

int boot_mem_map(const struct guest_mem *m, struct boot_mem_range *out, int max)
{
	struct boot_mem_range r[4];
	int n = 0;
	uint64_t low = m->nregions > 0 ? m->regions[0].gpa + m->regions[0].size : 0;
	if (low)
		r[n++] = (struct boot_mem_range){ 0, low < BOOT_EBDA_START ? low : BOOT_EBDA_START, 1 };
	/* EBDA + legacy BIOS area: ACPI tables live here (0xE0000), so never RAM. */
	r[n++] = (struct boot_mem_range){ BOOT_EBDA_START, BOOT_HIMEM_START - BOOT_EBDA_START, 2 };
	if (low > BOOT_HIMEM_START)
		r[n++] = (struct boot_mem_range){ BOOT_HIMEM_START, low - BOOT_HIMEM_START, 1 };
	if (m->nregions > 1)
		r[n++] = (struct boot_mem_range){ m->regions[1].gpa, m->regions[1].size, 1 };
	if (n > max)
		n = max > 0 ? max : 0;
	if (n)
		memcpy(out, r, n * sizeof(*r));
	return n;
}

static int load(struct boot_ctx *c, struct boot_entry *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->k)
		c->klen = 0;
	if (!c->initrd)
		c->ilen = 0;
	if (!c->cmdline)
		c->cmdline = "";
	if (!c->initrd_name)
		c->initrd_name = "initrd";
	c->low_end = c->m->nregions > 0 ? c->m->regions[0].gpa + c->m->regions[0].size : 0;
	if (c->low_end <= BOOT_HIMEM_START)
		return boot_err(c, BOOT_WHO_KERNEL,
				"guest memory of %" PRIu64 " KiB is too small: mpvm needs 1 MiB for its boot structures plus room for the kernel",
				c->m->ram_size >> 10);
	size_t cl = strlen(c->cmdline);
	if (cl >= BOOT_CMDLINE_MAX)
		return boot_err(c, BOOT_WHO_CMDLINE, "%zu bytes is longer than the limit of %llu bytes",
				cl, (unsigned long long)BOOT_CMDLINE_MAX - 1);

	const uint8_t *k = c->k;
	if (c->klen >= 0x206 && rd16(k + 0x1fe) == 0xaa55 && !memcmp(k + 0x202, "HdrS", 4))
		return boot_linux_bzimage(c, out);
	if (c->klen >= 4 && !memcmp(k, "\177ELF", 4))
		return boot_elf(c, out);
	size_t off;
	int r = boot_mb_find(c, &off);
	if (r > 0)
		return boot_multiboot(c, off, false, out);
	if (r < 0)
		return boot_err(c, BOOT_WHO_KERNEL,
				"multiboot header at offset 0x%zx has a bad checksum (magic + flags + checksum != 0)", off);
	return boot_err(c, BOOT_WHO_KERNEL,
			"unrecognised format (%zu bytes): not a bzImage (no \"HdrS\" at 0x202), not ELF, and no multiboot header in the first 8 KiB",
			c->klen);
}

int boot_load_buf(const struct guest_mem *m, const uint8_t *kernel, size_t klen,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  const char *initrd_name, uint64_t rsdp_addr,
		  struct boot_entry *out, char *err, size_t errlen)
{
	struct boot_ctx c = {
		.m = m, .k = kernel, .klen = klen, .initrd = initrd, .ilen = ilen,
		.cmdline = cmdline, .initrd_name = initrd_name, .iname = initrd_name,
		.rsdp = rsdp_addr, .err = err, .errlen = errlen,
	};
	return load(&c, out);
}

/* Whole file into a malloc'd buffer; capped at `max` so a wrong path (a disk
 * image, /dev/zero) fails fast instead of exhausting host memory. */
static int read_file(const char *what, const char *path, uint64_t max, uint8_t **buf,
		     size_t *len, char *err, size_t errlen)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return err_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
	}
	struct stat st;
	const char *why = NULL;
	if (fstat(fd, &st))
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size == 0)
		why = "file is empty";
	else if ((uint64_t)st.st_size > max) {
		err_set(err, errlen, "%s %s: %llu bytes is larger than guest memory (%" PRIu64 " MiB)",
			what, path, (unsigned long long)st.st_size, max >> 20);
		close(fd);
		return -1;
	}
	size_t n = why ? 0 : (size_t)st.st_size, got = 0;
	uint8_t *b = why ? NULL : malloc(n);
	if (!why && !b)
		why = "out of host memory";
	while (!why && got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			why = r < 0 ? strerror(errno) : "file shrank while being read";
		else
			got += (size_t)r;
	}
	close(fd);
	if (why) {
		err_set(err, errlen, "%s %s: %s", what, path, why);
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

const char *boot_protocol_name(enum boot_protocol p)
{
	switch (p) {
	case BOOT_PROTO_LINUX64: return "Linux 64-bit boot protocol";
	case BOOT_PROTO_PVH: return "PVH";
	case BOOT_PROTO_MULTIBOOT: return "multiboot";
	}
	return "?";
}

int boot_load(const struct guest_mem *m, const struct boot_params_in *in,
	      struct boot_entry *out, char *err, size_t errlen)
{
	if (!in->kernel_path) {
		return err_set(err, errlen, "no kernel image configured (boot-source.kernel_image_path)");
	}
	uint8_t *k = NULL, *rd = NULL;
	size_t klen = 0, ilen = 0;
	int rc = -1;
	if (read_file("kernel image", in->kernel_path, m->ram_size, &k, &klen, err, errlen) == 0 &&
	    (!in->initrd_path ||
	     read_file("initrd", in->initrd_path, m->ram_size, &rd, &ilen, err, errlen) == 0)) {
		struct boot_ctx c = {
			.m = m, .k = k, .klen = klen, .initrd = rd, .ilen = ilen,
			.cmdline = in->cmdline, .initrd_name = in->initrd_path,
			.kname = in->kernel_path, .iname = in->initrd_path,
			.rsdp = in->rsdp_addr, .err = err, .errlen = errlen,
		};
		rc = load(&c, out);
	}
	free(k);
	free(rd);
	return rc;
}
