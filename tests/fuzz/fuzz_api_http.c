/* libFuzzer: HTTP bytes in, response out, through the real transport
 * (libmicrohttpd + api_http.c + the router). The input is written to one
 * end of a socketpair whose other end the server serves; the server must
 * answer or hang up, never crash or hang, and what it sends back (headers
 * and JSON bodies, which may echo the path) must be valid UTF-8 without NUL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/utf8.h"
#include "fuzz_fakes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_server *s;
	char err[256];
	static char out[1 << 20]; /* everything the server sent for this input */
	size_t got = 0;
	bool wrapped = false;
	fz_reset();
	if (!s) {
		s = api_server_new(&fz_vmm, NULL, NULL, &fz_ops, "fuzz", err, sizeof(err));
		if (!s) {
			fprintf(stderr, "%s\n", err);
			abort();
		}
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		return 0;
	if (api_server_add_connection(s, sv[0])) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	size_t off = 0;
	bool eof = false;
	if (!size)
		shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 1000 && !eof; i++) {
		if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size; /* the server hung up */
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		}
		api_server_run(s);
		ssize_t r = -1;
		while ((r = read(sv[1], out + got, sizeof(out) - got)) > 0) {
			got += (size_t)r;
			if (got == sizeof(out))
				got = 0, wrapped = true;
		}
		eof = r == 0;
	}
	close(sv[1]);
	/* Answers to libFuzzer-sized inputs are far below 1 MiB; past it the
	 * buffer wrapped (and may start inside a character), so skip the check. */
	if (!wrapped && utf8_check(out, got, err, sizeof(err))) {
		fprintf(stderr, "the server's answer is not UTF-8: %s\n", err);
		abort();
	}
	/* Let the server see the hang-up and free the connection. */
	for (int i = 0; i < 3; i++)
		api_server_run(s);
	return 0;
}
