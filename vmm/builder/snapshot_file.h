/* The snapshot file: header, the VM's config, its state stream, checksum
 * (issue 14; byte layout in docs/snapshot.md).
 *
 * Contract. snapfile_encode() lays a snapshot out in memory;
 * snapfile_parse() is its inverse over untrusted bytes: it checks the
 * magic, format version, header length, that every length fits inside the
 * file, the CRC32 over everything before the trailing checksum, that the
 * config is text without NUL and the state a well-formed section stream
 * (base/snap.h); the views it returns point into `buf`. It never reads out
 * of bounds, whatever the bytes (fuzz_snapshot_file). snapfile_check_host()
 * then refuses a snapshot from another CPU vendor or needing capabilities
 * this mpvm does not know (core/vm_snap.h checks the host's KVM for those
 * it knows). Every refusal is
 * one line saying what and what to do.
 */
#ifndef MPVM_SNAPSHOT_FILE_H
#define MPVM_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPFILE_MAGIC "MPVMSNAP"
#define SNAPFILE_VERSION 1
#define SNAPFILE_HEADER_LEN 64
/* Flags */
#define SNAPFILE_F_DIFF 1u /* the memory file holds only pages dirtied since the last snapshot */
#define SNAPFILE_F_ALL SNAPFILE_F_DIFF
/* A state stream is a few KiB per vCPU plus devices; a config is < 64 KiB.
 * Larger claims are corrupt (and would make the loader allocate). */
#define SNAPFILE_MAX_LEN (256u << 20)

struct snapfile {
	uint32_t version;
	char vendor[13];   /* CPUID leaf 0 vendor, NUL-terminated */
	uint32_t caps;     /* VM_SNAP_CAP_* the state needs */
	uint32_t flags;    /* SNAPFILE_F_* */
	uint64_t mem_bytes;/* guest RAM, the memory file's size */
	const char *config;/* the VM's config as JSON (config/), not NUL-terminated */
	size_t config_len;
	const void *state; /* the state stream (base/snap.h) */
	size_t state_len;
};

/* The host CPU's vendor string ("GenuineIntel", "AuthenticAMD", ...). */
void snapfile_host_vendor(char out[13]);
/* The whole file as malloc'd bytes (*len set); NULL when out of memory. */
uint8_t *snapfile_encode(const struct snapfile *f, size_t *len);
int snapfile_parse(const void *buf, size_t len, struct snapfile *out, char *err, size_t errlen);
int snapfile_check_host(const struct snapfile *f, const char *host_vendor, char *err,
			size_t errlen);
/* Reads a whole snapshot file (at most SNAPFILE_MAX_LEN bytes). malloc'd,
 * or NULL with err set. */
uint8_t *snapfile_read(const char *path, size_t *len, char *err, size_t errlen);
/* A file written under "<path>.tmpPID" and renamed over `path` only once
 * it is complete, so a reader never sees half a file and a file still
 * mapped (a restored VM's memory) is not changed under it. Open, write
 * (pwrite at an offset), close, rename; discard undoes whatever is left
 * (closes, removes the temporary file) and is safe after a rename. Each
 * returns 0 or -1 with err set. */
struct snapfile_tmp {
	const char *path;
	char *tmp;
	int fd;
};
int snapfile_tmp_open(struct snapfile_tmp *t, const char *path, char *err, size_t errlen);
int snapfile_tmp_write(struct snapfile_tmp *t, const void *buf, size_t len, uint64_t off,
		       char *err, size_t errlen);
int snapfile_tmp_close(struct snapfile_tmp *t, char *err, size_t errlen);
int snapfile_tmp_rename(struct snapfile_tmp *t, char *err, size_t errlen);
void snapfile_tmp_discard(struct snapfile_tmp *t);

#endif
