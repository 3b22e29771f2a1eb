#include "core/guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "base/err.h"

/* fd < 0: anonymous memory; else the file from `off`. */
static int map_region(struct gm_region *r, uint64_t gpa, uint64_t size, bool huge, int fd,
		      uint64_t off)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	/* THP is a hint: a host without it still runs the guest. */
	if (huge)
		(void)madvise(p, size, MADV_HUGEPAGE);
	r->gpa = gpa;
	r->size = size;
	r->host = p;
	return 0;
}

static int create(struct guest_mem *m, uint64_t ram_size, bool hugepages, int fd,
		  char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (ram_size == 0 || (ram_size & 0xfff)) {
		err_set(err, errlen, "guest memory size %llu is not a positive multiple of 4 KiB",
			(unsigned long long)ram_size);
		return -EINVAL;
	}
	uint64_t low = ram_size < GM_MMIO_HOLE_START ? ram_size : GM_MMIO_HOLE_START;
	int rc = map_region(&m->regions[0], 0, low, hugepages, fd, 0);
	if (rc == 0) {
		m->nregions = 1;
		if (ram_size > low) {
			rc = map_region(&m->regions[1], GM_MMIO_HOLE_END, ram_size - low, hugepages,
					fd, low);
			if (rc == 0)
				m->nregions = 2;
		}
	}
	if (rc) {
		err_set(err, errlen, "mmap of %llu MiB guest memory: %s (lower memory.mem_size_mib or free host memory)",
			(unsigned long long)(ram_size >> 20), strerror(-rc));
		gm_destroy(m);
		return rc;
	}
	m->ram_size = ram_size;
	return 0;
}

int gm_create(struct guest_mem *m, uint64_t ram_size, bool hugepages,
	      char *err, size_t errlen)
{
	return create(m, ram_size, hugepages, -1, err, errlen);
}

int gm_check_file(int fd, uint64_t ram_size, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		err_set(err, errlen, "memory file %s: %s", path, strerror(e));
		return -e;
	}
	/* A shorter file would SIGBUS the guest (or mpvm) on the missing pages. */
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != ram_size) {
		err_set(err, errlen, "memory file %s: %s %llu bytes, the snapshot's VM has %llu "
			"(%llu MiB); give the memory file written with this snapshot",
			path, S_ISREG(st.st_mode) ? "holds" : "is not a regular file; holds",
			(unsigned long long)st.st_size, (unsigned long long)ram_size,
			(unsigned long long)(ram_size >> 20));
		return -EINVAL;
	}
	return 0;
}

int gm_create_from_file(struct guest_mem *m, uint64_t ram_size, int fd, const char *path,
			char *err, size_t errlen)
{
	int rc = gm_check_file(fd, ram_size, path, err, errlen);
	if (rc)
		return rc;
	rc = create(m, ram_size, false, fd, err, errlen);
	if (rc)
		err_prefix(err, errlen, "memory file %s: ", path);
	m->from_file = !rc;
	return rc;
}

uint64_t gm_file_offset(const struct guest_mem *m, int i)
{
	return i == 0 ? 0 : m->regions[0].size;
}

void gm_destroy(struct guest_mem *m)
{
	for (int i = 0; i < m->nregions; i++) {
		munmap(m->regions[i].host, m->regions[i].size);
		free(m->dirty[i]);
	}
	memset(m, 0, sizeof(*m));
}

int gm_track_dirty(struct guest_mem *m)
{
	for (int i = 0; i < m->nregions; i++) {
		m->dirty[i] = calloc((m->regions[i].size / 4096 + 63) / 64, 8);
		if (!m->dirty[i])
			return -ENOMEM;
	}
	return 0;
}

static void mark(const struct guest_mem *m, int i, uint64_t off, uint64_t len)
{
	uint64_t *bm = m->dirty[i];
	if (!bm || !len)
		return;
	for (uint64_t pg = off / 4096, last = (off + len - 1) / 4096; pg <= last; pg++)
		__atomic_fetch_or(&bm[pg / 64], 1ULL << (pg % 64), __ATOMIC_RELAXED);
}

void gm_take_dirty(const struct guest_mem *m, int i, uint64_t *bm)
{
	if (!m->dirty[i])
		return;
	for (uint64_t w = 0, n = (m->regions[i].size / 4096 + 63) / 64; w < n; w++)
		bm[w] |= __atomic_exchange_n(&m->dirty[i][w], 0, __ATOMIC_RELAXED);
}

void *gm_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct gm_region *r = &m->regions[i];
		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		uint64_t off = gpa - r->gpa;
		if (len > r->size - off)
			return NULL;
		mark(m, i, off, len);
		return r->host + off;
	}
	return NULL;
}

void gm_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	(void)gm_ptr(m, gpa, len);
}

int gm_gpa_of(const struct guest_mem *m, const void *p, uint64_t len, uint64_t *gpa)
{
	uintptr_t h = (uintptr_t)p;
	for (int i = 0; i < m->nregions; i++) {
		const struct gm_region *r = &m->regions[i];
		uintptr_t base = (uintptr_t)r->host;
		if (h < base || h - base > r->size || len > r->size - (h - base))
			continue;
		*gpa = r->gpa + (h - base);
		return 0;
	}
	return -1;
}

bool gm_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	return gm_ptr(m, gpa, len) != NULL;
}

int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = gm_ptr(m, gpa, len);
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(m, gpa, len);
	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

int gm_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	/* Private anonymous memory: MADV_DONTNEED frees the pages at once. On
	 * a private file mapping (a restored VM) it would bring back the
	 * snapshot's bytes instead of zeroes: put fresh anonymous memory in
	 * their place (KVM follows the change through its MMU notifier). */
	if ((gpa | len) & 4095)
		return -1;
	void *p = gm_ptr(m, gpa, len);
	if (p && m->from_file)
		return mmap(p, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == p ? 0 : -1;
	return p && !madvise(p, len, MADV_DONTNEED) ? 0 : -1;
}
