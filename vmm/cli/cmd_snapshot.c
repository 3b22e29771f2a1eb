/* mpvm snapshot-rebase --base MEM --diff DIFF: applies a Diff snapshot's
 * memory file on top of the memory file it was taken after (Firecracker's
 * rebase-snap). A Diff memory file is as large as RAM and holds data only
 * where pages were dirtied (holes elsewhere, docs/snapshot.md): every data
 * range of DIFF is copied to the same offset of BASE, which then restores
 * with the Diff snapshot file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/exit_codes.h"
#include "cli/commands.h"

static int copy_range(int in, int out, off_t off, off_t end)
{
	static char buf[1 << 20];
	while (off < end) {
		size_t n = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t r = pread(in, buf, n, off);
		if (r <= 0)
			return -1;
		for (ssize_t done = 0; done < r;) {
			ssize_t w = pwrite(out, buf + done, (size_t)(r - done), off + done);
			if (w < 0)
				return -1;
			done += w;
		}
		off += r;
	}
	return 0;
}

int cmd_snapshot_rebase(int argc, char **argv)
{
	const char *base = NULL, *diff = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--base") && i + 1 < argc)
			base = argv[++i];
		else if (!strcmp(argv[i], "--diff") && i + 1 < argc)
			diff = argv[++i];
		else {
			fprintf(stderr, "usage: mpvm snapshot-rebase --base MEM_FILE --diff DIFF_MEM_FILE\n");
			return MPVM_EXIT_USAGE;
		}
	}
	if (!base || !diff) {
		fprintf(stderr, "usage: mpvm snapshot-rebase --base MEM_FILE --diff DIFF_MEM_FILE\n");
		return MPVM_EXIT_USAGE;
	}
	int in = open(diff, O_RDONLY | O_CLOEXEC), out = open(base, O_WRONLY | O_CLOEXEC);
	struct stat si, so;
	int status = MPVM_EXIT_ERROR;
	if (in < 0 || out < 0 || fstat(in, &si) || fstat(out, &so)) {
		fprintf(stderr, "mpvm: snapshot-rebase: %s: %s\n", in < 0 ? diff : base, strerror(errno));
		goto out;
	}
	if (si.st_size != so.st_size) {
		fprintf(stderr, "mpvm: snapshot-rebase: %s holds %lld bytes, %s %lld: not the same "
			"VM's memory\n", diff, (long long)si.st_size, base, (long long)so.st_size);
		status = MPVM_EXIT_CONFIG;
		goto out;
	}
	off_t off = 0;
	for (;;) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* no data after off */
		off_t hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
		if (data < 0 || hole < 0 || copy_range(in, out, data, hole)) {
			fprintf(stderr, "mpvm: snapshot-rebase: %s: %s\n", diff, strerror(errno));
			goto out;
		}
		off = hole;
	}
	status = fsync(out) ? MPVM_EXIT_ERROR : 0;
	if (status)
		fprintf(stderr, "mpvm: snapshot-rebase: %s: %s\n", base, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return status;
}
