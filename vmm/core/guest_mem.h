/* Guest physical memory: the one checked accessor.
 *
 * Contract: every access to guest RAM by the VMM (loaders, devices, PMU) goes
 * through gm_ptr()/gm_read()/gm_write(). They reject ranges that overflow
 * (gpa + len wraps), fall outside RAM, or straddle two regions (the x86 hole
 * below 4 GiB splits RAM in two). Nothing else does pointer arithmetic on
 * guest memory. Thread-safe: the layout is fixed once created.
 */
#ifndef MPVM_GUEST_MEM_H
#define MPVM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2
/* RAM above this is moved above 4 GiB, leaving room for MMIO (LAPIC, IOAPIC,
 * virtio-mmio) below 4 GiB, as on a PC. */
#define GM_MMIO_HOLE_START 0xC0000000ULL
#define GM_MMIO_HOLE_END   0x100000000ULL

struct gm_region {
	uint64_t gpa;   /* guest-physical start */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host mapping */
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	int nregions;
	uint64_t ram_size; /* total RAM bytes */
	/* Pages the VMM may have written (one bit per 4 KiB page per region),
	 * NULL unless gm_track_dirty(): KVM's dirty log sees only the vCPUs'
	 * writes, Diff snapshots need the devices' too. */
	uint64_t *dirty[GM_MAX_REGIONS];
	bool from_file; /* gm_create_from_file(): discarded pages must not fall back to it */
};

/* Map `ram_size` bytes of anonymous memory laid out around the MMIO hole.
 * `hugepages` asks for THP with madvise(MADV_HUGEPAGE). Returns 0 or -errno;
 * on failure `err` says why. */
int gm_create(struct guest_mem *m, uint64_t ram_size, bool hugepages,
	      char *err, size_t errlen);
/* The same layout mapped MAP_PRIVATE from `fd` (a snapshot's memory file:
 * RAM below the hole first, then RAM above 4 GiB, back to back), so a
 * restore copies nothing: pages are read from the file when the guest
 * touches them and become private copies when it writes them. The file must
 * be exactly `ram_size` bytes. 0 or -errno with `err` set. */
int gm_create_from_file(struct guest_mem *m, uint64_t ram_size, int fd, const char *path,
			char *err, size_t errlen);
/* Its check alone: `fd` is a regular file of exactly ram_size bytes. */
int gm_check_file(int fd, uint64_t ram_size, const char *path, char *err, size_t errlen);
void gm_destroy(struct guest_mem *m);

/* Host-side dirty tracking (Diff snapshots). gm_track_dirty() starts it
 * (0 or -ENOMEM); from then on every range gm_ptr() hands out is marked,
 * reads included (a device may write through a pointer it got to read
 * a chain): conservative, never missing a page. gm_mark_dirty() marks a
 * range written through a pointer kept from earlier (a virtqueue's used
 * ring). gm_take_dirty() ORs region i's marks into `bm` (the layout of
 * KVM's dirty log) and clears them. All thread-safe; no-ops untracked. */
int gm_track_dirty(struct guest_mem *m);
void gm_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len);
void gm_take_dirty(const struct guest_mem *m, int i, uint64_t *bm);

/* Where region `i` starts in a memory file laid out as above. */
uint64_t gm_file_offset(const struct guest_mem *m, int i);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is not RAM, the range
 * wraps, or it crosses a region boundary. len == 0 is valid inside RAM. */
void *gm_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy helpers: 0 on success, -1 (nothing copied) if the range is invalid. */
int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);

/* Give the host back the pages of [gpa, gpa+len) (page-aligned, valid RAM):
 * they read as zero afterwards and cost no host memory until touched again
 * (the balloon's inflated pages). 0, or -1 if the range is not page-aligned
 * RAM or madvise failed. */
int gm_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* The inverse of gm_ptr(): the guest address of host range [p, p+len),
 * for a device holding only host pointers (a virtqueue element's iovecs).
 * 0 with *gpa set, or -1 if the range is not inside one RAM region. */
int gm_gpa_of(const struct guest_mem *m, const void *p, uint64_t len, uint64_t *gpa);

/* True when [gpa, gpa+len) is valid RAM (same rules as gm_ptr). */
bool gm_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Overflow-safe "a + b <= limit" for guest-supplied numbers. */
static inline bool gm_add_ok(uint64_t a, uint64_t b, uint64_t limit)
{
	uint64_t s;
	return !__builtin_add_overflow(a, b, &s) && s <= limit;
}

#endif
