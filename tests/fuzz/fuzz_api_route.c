/* libFuzzer: the API router without a socket. Input: "METHOD\nPATH\nBODY".
 * Every answer must be a status the API documents with a JSON body in valid
 * UTF-8 (or none for 204), whatever the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/utf8.h"
#include "fuzz_fakes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = 0;
	char *method = in, *path = memchr(in, '\n', size);
	if (!path) {
		free(in);
		return 0;
	}
	*path++ = 0;
	char *body = memchr(path, '\n', size - (size_t)(path - in));
	size_t blen = 0;
	if (body) {
		*body++ = 0;
		blen = size - (size_t)(body - in);
	}
	fz_reset();
	struct api_ctx a = { .vmm = &fz_vmm, .ops = &fz_ops, .id = "fuzz" };
	/* Two requests on the same state: a start then whatever follows. */
	for (int i = 0; i < 2; i++) {
		struct api_reply r;
		api_route(&a, method, path, body, blen, &r);
		if (r.status != 200 && r.status != 204 && r.status != 400 && r.status != 404 &&
		    r.status != 405)
			abort();
		if ((r.status == 204) != (r.body == NULL))
			abort();
		if (r.body) {
			/* RFC 8259: JSON text is UTF-8; cJSON_Parse does not check. */
			if (utf8_check(r.body, strlen(r.body), NULL, 0))
				abort();
			cJSON *j = cJSON_Parse(r.body);
			if (!j)
				abort(); /* every body is JSON */
			cJSON_Delete(j);
		}
		free(r.body);
	}
	free(in);
	return 0;
}
