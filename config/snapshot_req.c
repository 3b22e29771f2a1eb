/* The bodies of PUT /snapshot/create and PUT /snapshot/load (Firecracker's
 * SnapshotCreateParams and SnapshotLoadParams), checked as its swagger
 * defines them. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/json_get.h"

void cfg_snapshot_req_free(struct cfg_snapshot_req *s)
{
	free(s->snapshot_path);
	free(s->mem_file_path);
	memset(s, 0, sizeof(*s));
}

int cfg_parse_snapshot_create(const char *json, struct cfg_snapshot_req *out, char *err,
			      size_t errlen)
{
	static const char *const keys[] = { "snapshot_type", "snapshot_path", "mem_file_path",
					    "version", NULL };
	static const char *const types[] = { "Full", "Diff", NULL };
	const char *what = "snapshot/create";
	struct jerr e = { err, errlen };
	struct cfg_snapshot_req s = { 0 };
	cJSON *root;
	int type = 0;
	if (jg_parse_object(json, what, &root, &e))
		return -1;
	/* "version" (a target snapshot version) was dropped by Firecracker
	 * 1.5; mpvm writes one format and accepts it only as null. */
	int rc = jg_check_keys(root, what, keys, &e) ||
		 (jg_get(root, "version") && jg_fail(&e, what, "version", "not supported: mpvm "
						     "writes snapshot format version 1 only")) ||
		 jg_str(root, what, "snapshot_path", JG_REQUIRED | JG_NONEMPTY, &s.snapshot_path, &e) < 0 ||
		 jg_str(root, what, "mem_file_path", JG_REQUIRED | JG_NONEMPTY, &s.mem_file_path, &e) < 0 ||
		 jg_enum(root, what, "snapshot_type", 0, types, &type, &e) < 0;
	cJSON_Delete(root);
	s.diff = type == 1;
	if (rc) {
		cfg_snapshot_req_free(&s);
		return -1;
	}
	*out = s;
	return 0;
}

int cfg_parse_snapshot_load(const char *json, struct cfg_snapshot_req *out, char *err,
			    size_t errlen)
{
	static const char *const keys[] = { "snapshot_path", "mem_file_path", "mem_backend",
					    "enable_diff_snapshots", "track_dirty_pages",
					    "resume_vm", "pmu_fallback", NULL };
	static const char *const backend_keys[] = { "backend_type", "backend_path", NULL };
	static const char *const backends[] = { "File", "Uffd", NULL };
	const char *what = "snapshot/load";
	struct jerr e = { err, errlen };
	struct cfg_snapshot_req s = { 0 };
	bool diff = false, track = false;
	cJSON *root;
	if (jg_parse_object(json, what, &root, &e))
		return -1;
	int rc = jg_check_keys(root, what, keys, &e) ||
		 jg_str(root, what, "snapshot_path", JG_REQUIRED | JG_NONEMPTY, &s.snapshot_path, &e) < 0 ||
		 jg_bool(root, what, "enable_diff_snapshots", 0, &diff, &e) < 0 ||
		 jg_bool(root, what, "track_dirty_pages", 0, &track, &e) < 0 ||
		 jg_bool(root, what, "resume_vm", 0, &s.resume_vm, &e) < 0 ||
		 jg_bool(root, what, "pmu_fallback", 0, &s.pmu_fallback, &e) < 0;
	const cJSON *mb = rc ? NULL : jg_get(root, "mem_backend");
	bool has_file = !rc && jg_get(root, "mem_file_path");
	/* Exactly one of the two (Firecracker's rule). */
	if (!rc && !!mb == has_file)
		rc = jg_fail(&e, what, NULL, "exactly one of mem_backend and mem_file_path "
			     "(deprecated) must be given");
	if (!rc && has_file)
		rc = jg_str(root, what, "mem_file_path", JG_NONEMPTY, &s.mem_file_path, &e) < 0;
	if (!rc && mb) {
		char path[JG_PATH_LEN];
		int type = 0;
		jg_subpath(path, sizeof(path), what, "mem_backend");
		rc = jg_want_object(mb, path, &e) || jg_check_keys(mb, path, backend_keys, &e) ||
		     jg_enum(mb, path, "backend_type", JG_REQUIRED, backends, &type, &e) < 0 ||
		     jg_str(mb, path, "backend_path", JG_REQUIRED | JG_NONEMPTY, &s.mem_file_path, &e) < 0;
		/* Firecracker's Uffd hands page faults to a user process over a
		 * socket; mpvm maps the file (MAP_PRIVATE) instead. */
		if (!rc && type == 1)
			rc = jg_fail(&e, path, "backend_type", "Uffd is not supported by mpvm (only "
				     "File: the memory file is mapped copy-on-write)");
	}
	cJSON_Delete(root);
	s.track_dirty_pages = diff || track;
	if (rc) {
		cfg_snapshot_req_free(&s);
		return -1;
	}
	*out = s;
	return 0;
}
