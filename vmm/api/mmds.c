/* The MMDS data store; see mmds.h. */
#include "api/mmds.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "config/config.h"

/* NULL until the first PUT: Firecracker's "not initialized". */
static cJSON *store;

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

/* Installs `next` if it fits; consumes it either way. */
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

	if (cfg_parse_data_object(json, "mmds", &next, err, errlen))
		return 400;
	return commit(next, err, errlen);
}

int mmds_patch(const char *json, char *err, size_t errlen)
{
	cJSON *patch, *next;

	if (!store) {
		err_set(err, errlen, "The MMDS data store is not initialized.");
		return 400;
	}
	if (cfg_parse_data_object(json, "mmds", &patch, err, errlen))
		return 400;
	next = cJSON_Duplicate(store, true);
	next = next ? merge_patch(next, patch) : NULL;
	cJSON_Delete(patch);
	return commit(next, err, errlen);
}

char *mmds_json(void)
{
	return store ? cJSON_PrintUnformatted(store) : strdup("{}");
}

void mmds_reset(void)
{
	cJSON_Delete(store);
	store = NULL;
}
