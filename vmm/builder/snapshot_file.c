#include "builder/snapshot_file.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/snap.h"
#include "core/vm_snap.h"

/* Header offsets (docs/snapshot.md). */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HDRLEN = 12, H_VENDOR = 16, H_CAPS = 32, H_FLAGS = 36,
	H_CONFIG_LEN = 40, H_STATE_LEN = 48, H_MEM_BYTES = 56,
};
#define CRC_LEN 4

void snapfile_host_vendor(char out[13])
{
	unsigned a, b, c, d;
	memset(out, 0, 13);
	if (!__get_cpuid(0, &a, &b, &c, &d))
		return;
	memcpy(out, &b, 4);
	memcpy(out + 4, &d, 4);
	memcpy(out + 8, &c, 4);
}

static void put32(uint8_t *p, uint32_t v) { snap_le_put(p, v, 4); }
static void put64(uint8_t *p, uint64_t v) { snap_le_put(p, v, 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)snap_le_get(p, 4); }
static uint64_t get64(const uint8_t *p) { return snap_le_get(p, 8); }

static uint32_t crc(const uint8_t *p, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	/* zlib takes uInt lengths: feed it in pieces. */
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

uint8_t *snapfile_encode(const struct snapfile *f, size_t *len)
{
	size_t n = SNAPFILE_HEADER_LEN + f->config_len + f->state_len + CRC_LEN;
	uint8_t *b = calloc(1, n);
	if (!b)
		return NULL;
	memcpy(b + H_MAGIC, SNAPFILE_MAGIC, 8);
	put32(b + H_VERSION, SNAPFILE_VERSION);
	put32(b + H_HDRLEN, SNAPFILE_HEADER_LEN);
	memcpy(b + H_VENDOR, f->vendor, strnlen(f->vendor, 12));
	put32(b + H_CAPS, f->caps);
	put32(b + H_FLAGS, f->flags);
	put64(b + H_CONFIG_LEN, f->config_len);
	put64(b + H_STATE_LEN, f->state_len);
	put64(b + H_MEM_BYTES, f->mem_bytes);
	memcpy(b + SNAPFILE_HEADER_LEN, f->config, f->config_len);
	memcpy(b + SNAPFILE_HEADER_LEN + f->config_len, f->state, f->state_len);
	put32(b + n - CRC_LEN, crc(b, n - CRC_LEN));
	*len = n;
	return b;
}

int snapfile_parse(const void *buf, size_t len, struct snapfile *out, char *err, size_t errlen)
{
	const uint8_t *b = buf;
	memset(out, 0, sizeof(*out));
	if (len < 8 || memcmp(b, SNAPFILE_MAGIC, 8))
		FAIL("not an mpvm snapshot (no \"" SNAPFILE_MAGIC "\" at the start)");
	if (len < SNAPFILE_HEADER_LEN + CRC_LEN)
		FAIL("truncated: %zu bytes, less than a snapshot's header", len);
	out->version = get32(b + H_VERSION);
	/* The version comes before anything else is believed: another
	 * version's header may mean other things. */
	if (out->version != SNAPFILE_VERSION)
		FAIL("snapshot format version %u; this mpvm reads version %u only (take the "
		     "snapshot again with this mpvm, or restore it with the mpvm that made it)",
		     out->version, SNAPFILE_VERSION);
	if (get32(b + H_HDRLEN) != SNAPFILE_HEADER_LEN)
		FAIL("corrupt header: header length %u, expected %u", get32(b + H_HDRLEN),
		     SNAPFILE_HEADER_LEN);
	uint64_t clen = get64(b + H_CONFIG_LEN), slen = get64(b + H_STATE_LEN);
	uint64_t body = len - SNAPFILE_HEADER_LEN - CRC_LEN;
	if (clen > body || slen > body - clen)
		FAIL("truncated: the header announces %llu bytes of config and %llu of state, the "
		     "file holds %llu after its header", (unsigned long long)clen,
		     (unsigned long long)slen, (unsigned long long)body);
	if (clen + slen != body)
		FAIL("corrupt: %llu bytes after the state, where only the checksum belongs",
		     (unsigned long long)(body - clen - slen));
	uint32_t want = get32(b + len - CRC_LEN), got = crc(b, len - CRC_LEN);
	if (want != got)
		FAIL("checksum mismatch (CRC32 0x%08x, the file says 0x%08x): the snapshot file is "
		     "corrupt", got, want);
	memcpy(out->vendor, b + H_VENDOR, 12);
	out->vendor[12] = 0;
	out->caps = get32(b + H_CAPS);
	out->flags = get32(b + H_FLAGS);
	out->mem_bytes = get64(b + H_MEM_BYTES);
	out->config = (const char *)b + SNAPFILE_HEADER_LEN;
	out->config_len = clen;
	out->state = b + SNAPFILE_HEADER_LEN + clen;
	out->state_len = slen;
	if (out->flags & ~SNAPFILE_F_ALL)
		FAIL("unknown flags 0x%x in the header", out->flags & ~SNAPFILE_F_ALL);
	if (!out->mem_bytes || (out->mem_bytes & 4095))
		FAIL("corrupt header: memory size %llu is not a positive multiple of 4 KiB",
		     (unsigned long long)out->mem_bytes);
	if (memchr(out->config, 0, clen))
		FAIL("corrupt: the stored config holds a NUL byte");
	return snap_stream_check(out->state, slen, err, errlen);
}

int snapfile_check_host(const struct snapfile *f, const char *host_vendor, char *err,
			size_t errlen)
{
	if (strcmp(f->vendor, host_vendor))
		FAIL("the snapshot was taken on a \"%s\" CPU, this host's is \"%s\": vCPU state "
		     "(MSRs, CPUID, XSAVE layout) does not carry across CPU vendors",
		     f->vendor, host_vendor);
	/* Which ones this host has is asked once KVM is open (vm_snap_check_caps). */
	if (f->caps & ~(uint32_t)VM_SNAP_CAP_ALL)
		FAIL("the snapshot's state needs host capabilities (0x%x) this mpvm does not "
		     "know; it was made by a newer mpvm", f->caps & ~(uint32_t)VM_SNAP_CAP_ALL);
	return 0;
}

uint8_t *snapfile_read(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		err_set(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SNAPFILE_MAX_LEN) {
		err_set(err, errlen, "%s: %s", path, S_ISREG(st.st_mode)
			? "larger than any mpvm snapshot file (256 MiB); is it the memory file?"
			: "not a regular file");
		close(fd);
		return NULL;
	}
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (b && got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0) {
			err_set(err, errlen, "%s: read: %s", path, r ? strerror(errno) : "file shrank");
			free(b);
			close(fd);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	if (!b)
		err_set(err, errlen, "%s: out of memory", path);
	*len = got;
	return b;
}

int snapfile_tmp_open(struct snapfile_tmp *t, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path) + 16;
	*t = (struct snapfile_tmp){ .path = path, .fd = -1, .tmp = malloc(n) };
	if (!t->tmp)
		FAIL("%s: out of memory", path);
	snprintf(t->tmp, n, "%s.tmp%d", path, (int)getpid());
	t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0)
		FAIL("%s: %s", t->tmp, strerror(errno));
	return 0;
}

int snapfile_tmp_write(struct snapfile_tmp *t, const void *buf, size_t len, uint64_t off,
		       char *err, size_t errlen)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = pwrite(t->fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			FAIL("%s: write: %s", t->path, strerror(errno));
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

int snapfile_tmp_close(struct snapfile_tmp *t, char *err, size_t errlen)
{
	int fd = t->fd;
	t->fd = -1;
	if (close(fd))
		FAIL("%s: %s", t->path, strerror(errno));
	return 0;
}

int snapfile_tmp_rename(struct snapfile_tmp *t, char *err, size_t errlen)
{
	if (rename(t->tmp, t->path))
		FAIL("%s: rename: %s", t->path, strerror(errno));
	free(t->tmp);
	t->tmp = NULL;
	return 0;
}

void snapfile_tmp_discard(struct snapfile_tmp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->tmp)
		unlink(t->tmp);
	free(t->tmp);
	*t = (struct snapfile_tmp){ .fd = -1 };
}
