/* The MMDS data store; see store.h. */
#include "mmds/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "config/config.h"

/* Guards everything below: the API thread writes, net workers read. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* NULL until the first PUT: Firecracker's "not initialized". */
static cJSON *store;

struct token {
	char text[MMDS_TOKEN_LEN + 1]; /* "" for a free slot */
	uint64_t expires_ns;
};
static struct token tokens[MMDS_MAX_TOKENS];

/* RFC 7396: an object patch edits member by member (null removes one),
 * anything else replaces the target. Consumes `target`; NULL when out of
 * memory (target freed). */
static cJSON *merge_patch(cJSON *target, const cJSON *patch)
{
	if (!cJSON_IsObject(patch)) {
		cJSON_Delete(target);
		return cJSON_Duplicate(patch, true);
	}
	if (!cJSON_IsObject(target)) {
		cJSON_Delete(target);
		if (!(target = cJSON_CreateObject()))
			return NULL;
	}
	for (const cJSON *m = patch->child; m; m = m->next) {
		cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(target, m->string);
		cJSON *now;

		if (cJSON_IsNull(m)) {
			cJSON_Delete(old);
			continue;
		}
		if (!(now = merge_patch(old, m)) || !cJSON_AddItemToObject(target, m->string, now)) {
			cJSON_Delete(now);
			cJSON_Delete(target);
			return NULL;
		}
	}
	return target;
}

/* Installs `next` if it fits; consumes it either way. Lock held. */
static int commit(cJSON *next, char *err, size_t errlen)
{
	char *text = next ? cJSON_PrintUnformatted(next) : NULL;
	size_t n = text ? strlen(text) : 0;

	free(text);
	if (!text) {
		cJSON_Delete(next);
		err_set(err, errlen, "mmds: out of memory");
		return 500;
	}
	if (n > MMDS_MAX_BYTES) {
		cJSON_Delete(next);
		err_set(err, errlen, "The MMDS patch request doesn't fit.");
		return 413;
	}
	cJSON_Delete(store);
	store = next;
	return 0;
}

int mmds_put(const char *json, char *err, size_t errlen)
{
	cJSON *next;
	int r;

	if (cfg_parse_data_object(json, "mmds", &next, err, errlen))
		return 400;
	pthread_mutex_lock(&lock);
	r = commit(next, err, errlen);
	pthread_mutex_unlock(&lock);
	return r;
}

int mmds_patch(const char *json, char *err, size_t errlen)
{
	cJSON *patch, *next;
	int r = 400;

	if (cfg_parse_data_object(json, "mmds", &patch, err, errlen))
		return 400;
	pthread_mutex_lock(&lock);
	if (!store) {
		err_set(err, errlen, "The MMDS data store is not initialized.");
		cJSON_Delete(patch);
	} else {
		next = cJSON_Duplicate(store, true);
		next = next ? merge_patch(next, patch) : NULL;
		cJSON_Delete(patch);
		r = commit(next, err, errlen);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

char *mmds_json(void)
{
	char *s;

	pthread_mutex_lock(&lock);
	s = store ? cJSON_PrintUnformatted(store) : strdup("{}");
	pthread_mutex_unlock(&lock);
	return s;
}

void mmds_reset(void)
{
	pthread_mutex_lock(&lock);
	cJSON_Delete(store);
	store = NULL;
	memset(tokens, 0, sizeof(tokens));
	pthread_mutex_unlock(&lock);
}

/* ---- the guest's view ---------------------------------------------------- */

/* The member of `o` named by path[0..len) (no "/" inside), NULL if none.
 * Arrays are indexed by decimal position, as a JSON pointer does. Pointer
 * escapes (~0, ~1) are not decoded: keys with "/" or "~" are not reachable,
 * a limit Firecracker's guests do not meet (IMDS keys are plain). */
static cJSON *child(cJSON *o, const char *name, size_t len)
{
	if (cJSON_IsObject(o)) {
		for (cJSON *m = o->child; m; m = m->next)
			if (strlen(m->string) == len && !memcmp(m->string, name, len))
				return m;
		return NULL;
	}
	if (cJSON_IsArray(o) && len && len <= 9 && (len == 1 || name[0] != '0')) {
		int i = 0;
		for (size_t k = 0; k < len; k++) {
			if (name[k] < '0' || name[k] > '9')
				return NULL;
			i = i * 10 + (name[k] - '0');
		}
		return cJSON_GetArrayItem(o, i);
	}
	return NULL;
}

/* IMDS text of `v`: NULL (with *status 501) for a type it cannot show. */
static char *imds_text(const cJSON *v, int *status)
{
	size_t n = 0;
	char *s, *p;

	*status = 500;
	if (cJSON_IsString(v))
		return strdup(v->valuestring);
	if (!cJSON_IsObject(v)) {
		*status = 501;
		return NULL;
	}
	for (const cJSON *m = v->child; m; m = m->next)
		n += strlen(m->string) + 2;
	if (!(s = p = malloc(n + 1)))
		return NULL;
	for (const cJSON *m = v->child; m; m = m->next) {
		size_t l = strlen(m->string);
		memcpy(p, m->string, l);
		p += l;
		if (cJSON_IsObject(m))
			*p++ = '/';
		if (m->next)
			*p++ = '\n';
	}
	*p = 0;
	return s;
}

int mmds_get(const char *path, size_t len, enum mmds_format f, char **out)
{
	int status = 404;
	cJSON *v;

	*out = NULL;
	pthread_mutex_lock(&lock);
	v = store;
	for (size_t i = 0; v && i < len;) {
		size_t j;
		if (path[i] == '/') {
			i++;
			continue;
		}
		for (j = i; j < len && path[j] != '/'; j++)
			;
		v = child(v, path + i, j - i);
		i = j;
	}
	if (v) {
		*out = f == MMDS_FORMAT_JSON ? cJSON_PrintUnformatted(v) : imds_text(v, &status);
		status = *out ? 200 : f == MMDS_FORMAT_JSON ? 500 : status;
	}
	pthread_mutex_unlock(&lock);
	return status;
}

/* ---- V2 session tokens ---------------------------------------------------- */

int mmds_token_new(uint32_t ttl_s, uint64_t now_ns, char out[MMDS_TOKEN_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[MMDS_TOKEN_LEN];
	struct token *slot = &tokens[0];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (size_t i = 0; i < MMDS_TOKEN_LEN; i++)
		out[i] = b64[rnd[i] & 63];
	out[MMDS_TOKEN_LEN] = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < MMDS_MAX_TOKENS; i++) {
		if (!tokens[i].text[0] || tokens[i].expires_ns <= now_ns) {
			slot = &tokens[i];
			break;
		}
		if (tokens[i].expires_ns < slot->expires_ns)
			slot = &tokens[i];
	}
	memcpy(slot->text, out, MMDS_TOKEN_LEN + 1);
	slot->expires_ns = now_ns + (uint64_t)ttl_s * 1000000000ull;
	pthread_mutex_unlock(&lock);
	return 0;
}

bool mmds_token_valid(const char *tok, size_t len, uint64_t now_ns)
{
	bool ok = false;

	if (len != MMDS_TOKEN_LEN)
		return false;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < MMDS_MAX_TOKENS && !ok; i++)
		ok = tokens[i].text[0] && tokens[i].expires_ns > now_ns &&
		     !memcmp(tokens[i].text, tok, MMDS_TOKEN_LEN);
	pthread_mutex_unlock(&lock);
	return ok;
}
