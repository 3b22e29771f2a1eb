/* The API's router without a socket: every resource's success, wrong-state,
 * bad-JSON, wrong-type, unknown-field and oversize answers, with the VM
 * replaced by fakes that record what the API asked for.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/metrics.h"
#include "mmds/store.h"
#include "base/utf8.h"
#include "builder/vmm.h"
#include "check_main.h"
#include "test_util.h"

static struct vmm V;
static struct api_ctx A;
static int starts, pauses, resumes, cads, filters;
static int fail_start; /* the fake build fails, as vmm_build does on a bad kernel */

static int fake_start(struct vmm *v, char *err, size_t errlen)
{
	starts++;
	if (fail_start) {
		snprintf(err, errlen, "boot-source.kernel_image_path: /nope: No such file");
		return -1;
	}
	v->started = true;
	atomic_store(&v->vm.state, VM_RUNNING);
	return 0;
}

static int fake_pause(struct vmm *v, char *err, size_t errlen)
{
	pauses++;
	atomic_store(&v->vm.state, VM_PAUSED);
	return 0;
}

static int fake_resume(struct vmm *v, char *err, size_t errlen)
{
	resumes++;
	atomic_store(&v->vm.state, VM_RUNNING);
	return 0;
}

static int fake_cad(struct vmm *v, char *err, size_t errlen) { cads++; return 0; }
static int fake_filter(struct vmm *v, const void *f, char *err, size_t errlen)
{
	filters++;
	return 0;
}
static void fake_stop(struct vmm *v) {}

/* The running drive takes the update unless its new file is "/refused". */
static int drive_updates;
static int fake_update_drive(struct vmm *v, const struct cfg_drive *d, char *err, size_t errlen)
{
	if (!strcmp(d->path_on_host, "/refused")) {
		snprintf(err, errlen, "drive %s: cannot open /refused", d->drive_id);
		return -1;
	}
	drive_updates++;
	return 0;
}

static int logger_calls;
static int fake_logger(struct vmm *v, const struct cfg_logger *l, char *err, size_t errlen)
{
	logger_calls++;
	return 0;
}

/* The real metrics file (metrics_open), so FlushMetrics can be read back. */
static int real_metrics(struct vmm *v, const char *path, char *err, size_t errlen)
{
	return metrics_open(v, path, err, errlen);
}

/* The snapshot calls see the parsed body; a load "starts" the VM Paused. */
static struct cfg_snapshot_req last_snap;
static int snap_creates, snap_loads;
static void keep_req(const struct cfg_snapshot_req *s)
{
	cfg_snapshot_req_free(&last_snap);
	last_snap = (struct cfg_snapshot_req){ .snapshot_path = strdup(s->snapshot_path),
					       .mem_file_path = strdup(s->mem_file_path),
					       .diff = s->diff, .track_dirty_pages = s->track_dirty_pages,
					       .resume_vm = s->resume_vm,
					       .pmu_fallback = s->pmu_fallback };
}
static int fake_snap_create(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			    size_t errlen)
{
	if (atomic_load(&v->vm.state) != VM_PAUSED) {
		snprintf(err, errlen, "snapshot/create: the microVM must be paused first");
		return -EINVAL;
	}
	snap_creates++;
	keep_req(s);
	return 0;
}
static int fake_snap_load(struct vmm *v, const struct cfg_snapshot_req *s, char *err,
			  size_t errlen)
{
	snap_loads++;
	keep_req(s);
	v->started = true;
	atomic_store(&v->vm.state, s->resume_vm ? VM_RUNNING : VM_PAUSED);
	return 0;
}

static const struct api_ops fake_ops = {
	.snapshot_create = fake_snap_create,
	.snapshot_load = fake_snap_load,
	.instance_start = fake_start,
	.pause = fake_pause,
	.resume = fake_resume,
	.ctrl_alt_del = fake_cad,
	.set_logger = fake_logger,
	.set_metrics = real_metrics,
	.set_pmu_filter = fake_filter,
	.update_drive = fake_update_drive,
	.stop = fake_stop,
};

static void setup(void)
{
	memset(&V, 0, sizeof(V));
	vm_config_init(&V.cfg);
	A = (struct api_ctx){ .vmm = &V, .ops = &fake_ops, .id = "test-vm" };
	starts = pauses = resumes = cads = filters = fail_start = logger_calls = 0;
}

static void teardown(void)
{
	cfg_snapshot_req_free(&last_snap);
	snap_creates = snap_loads = 0;
	vm_config_free(&V.cfg);
	mmds_reset();
}

/* Sends one request; returns the status, *body (static) the answer. */
static int req(const char *method, const char *path, const char *body, const char **out)
{
	static char last[65536];
	struct api_reply r;
	api_route(&A, method, path, body, body ? strlen(body) : 0, &r);
	/* Every answer is UTF-8 (RFC 8259), whatever was asked. */
	ck_assert_msg(!r.body || !utf8_check(r.body, strlen(r.body), NULL, 0),
		      "%s %s: the answer is not UTF-8", method, path);
	snprintf(last, sizeof(last), "%s", r.body ? r.body : "");
	free(r.body);
	if (out)
		*out = last;
	return r.status;
}

/* noinline: inlined into EXPECT with an empty needle, gcc -O2 reasons its
 * way to a bogus -Wformat-overflow on the failure message. */
__attribute__((noinline)) static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

#define EXPECT(status, method, path, body, needle)                                          \
	do {                                                                                \
		const char *b_ = "";                                                        \
		int s_ = req(method, path, body, &b_);                                      \
		ck_assert_msg(s_ == (status), "%s %s: got %d, want %d: %s", method, path,  \
			      s_, status, b_);                                               \
		ck_assert_msg(contains(b_, needle), "%s %s: '%s' not in %s", method, path, \
			      needle, b_);                                   \
	} while (0)

static void start_vm(void)
{
	EXPECT(204, "PUT", "/boot-source", "{\"kernel_image_path\": \"/k.elf\"}", "");
	EXPECT(204, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", "");
}

START_TEST(snapshot_create_needs_a_paused_vm)
{
	const char *body = "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}";
	EXPECT(400, "PUT", "/snapshot/create", body, "not supported before starting");
	start_vm();
	EXPECT(400, "PUT", "/snapshot/create", body, "must be paused");
	EXPECT(204, "PATCH", "/vm", "{\"state\": \"Paused\"}", "");
	EXPECT(400, "PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\"}",
	       "snapshot/create.mem_file_path");
	EXPECT(400, "PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": "
	       "\"/m\", \"snapshot_type\": \"Half\"}", "snapshot_type");
	EXPECT(400, "PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": "
	       "\"/m\", \"extra\": 1}", "extra: unknown key");
	ck_assert_int_eq(snap_creates, 0);
	EXPECT(204, "PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": "
	       "\"/m\", \"snapshot_type\": \"Diff\"}", "");
	ck_assert_int_eq(snap_creates, 1);
	ck_assert_str_eq(last_snap.snapshot_path, "/s");
	ck_assert_str_eq(last_snap.mem_file_path, "/m");
	ck_assert(last_snap.diff);
	/* After a load, nothing else loads. */
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	       "not allowed after configuring boot-specific resources");
}
END_TEST

START_TEST(snapshot_load_takes_firecrackers_body_on_a_fresh_vmm)
{
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\"}",
	       "exactly one of mem_backend and mem_file_path");
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
	       "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}}",
	       "exactly one of");
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	       "{\"backend_type\": \"Uffd\", \"backend_path\": \"/u.sock\"}}", "Uffd is not supported");
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	       "{\"backend_type\": \"File\"}}", "backend_path");
	/* The logger is not a boot resource: a load may follow it. */
	EXPECT(204, "PUT", "/logger", "{\"level\": \"Info\"}", "");
	ck_assert_int_eq(snap_loads, 0);
	EXPECT(204, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
	       "{\"backend_type\": \"File\", \"backend_path\": \"/m\"}, \"enable_diff_snapshots\": "
	       "true, \"resume_vm\": false, \"pmu_fallback\": true}", "");
	ck_assert_int_eq(snap_loads, 1);
	ck_assert_str_eq(last_snap.mem_file_path, "/m");
	ck_assert(last_snap.track_dirty_pages && !last_snap.resume_vm && last_snap.pmu_fallback);
	EXPECT(200, "GET", "/", NULL, "\"state\":\"Paused\"");
}
END_TEST

START_TEST(snapshot_load_is_refused_after_boot_config)
{
	EXPECT(204, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", "");
	EXPECT(400, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	       "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
	ck_assert_int_eq(snap_loads, 0);
}
END_TEST

START_TEST(root_and_version_always_answer)
{
	EXPECT(200, "GET", "/", NULL, "\"state\":\"Not started\"");
	EXPECT(200, "GET", "/", NULL, "\"id\":\"test-vm\"");
	EXPECT(200, "GET", "/version", NULL, "\"firecracker_version\"");
	start_vm();
	EXPECT(200, "GET", "/", NULL, "\"state\":\"Running\"");
}
END_TEST

START_TEST(machine_config_put_get_patch)
{
	EXPECT(204, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", "");
	EXPECT(200, "GET", "/machine-config", NULL, "\"vcpu_count\":2");
	EXPECT(204, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}", "");
	ck_assert_uint_eq(V.cfg.machine.vcpu_count, 2);
	ck_assert_uint_eq(V.cfg.machine.mem_size_mib, 32);
}
END_TEST

START_TEST(bad_bodies_name_the_field_and_change_nothing)
{
	EXPECT(204, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", "");
	EXPECT(400, "PUT", "/machine-config", "{\"vcpu_count\": \"two\"}", "vcpu_count");
	EXPECT(400, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"cpus\": 1}", "cpus");
	EXPECT(400, "PUT", "/machine-config", "{\"vcpu_count\": ", "fault_message");
	EXPECT(400, "PUT", "/machine-config", "[1, 2]", "fault_message");
	EXPECT(400, "PUT", "/machine-config", "", "Empty PUT request.");
	EXPECT(400, "PUT", "/machine-config", " \n", "the request body is empty");
	EXPECT(400, "PUT", "/boot-source", "{\"kernel_image_path\": 7}", "kernel_image_path");
	EXPECT(400, "PUT", "/entropy", "{\"rate_limiter\": 1}", "rate_limiter");
	EXPECT(400, "PUT", "/logger", "{\"level\": \"Loud\"}", "level");
	EXPECT(400, "PUT", "/metrics", "{\"metrics_path\": false}", "metrics_path");
	EXPECT(400, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", "host_dev_name");
	ck_assert_uint_eq(V.cfg.machine.vcpu_count, 2);
	ck_assert_uint_eq(V.cfg.machine.mem_size_mib, 64);
	ck_assert_ptr_null(V.cfg.boot.kernel_image_path);
}
END_TEST

START_TEST(oversize_and_nul_bodies_are_refused)
{
	size_t n = API_MAX_BODY + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	struct api_reply r;
	api_route(&A, "PUT", "/machine-config", big, n, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "larger than the limit of 51200"));
	free(r.body);
	free(big);
	api_route(&A, "PUT", "/machine-config", "{}\0{\"vcpu_count\": 9}", 20, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "NUL"));
	free(r.body);
}
END_TEST

START_TEST(unknown_path_404_wrong_method_405)
{
	EXPECT(404, "GET", "/nothing-here", NULL, "fault_message");
	EXPECT(404, "GET", "/machine-config/", NULL, "");
	EXPECT(404, "PUT", "/drives/", "{}", "");
	EXPECT(404, "PUT", "/drives/a/b", "{}", "");
	EXPECT(405, "DELETE", "/vm", NULL, "PATCH");
	EXPECT(405, "POST", "/actions", "{}", "PUT");
	EXPECT(405, "GET", "/boot-source", NULL, "");
}
END_TEST

START_TEST(drives_and_nets_take_their_id_from_the_path)
{
	EXPECT(400, "PUT", "/drives/rootfs",
	       "{\"drive_id\": \"other\", \"path_on_host\": \"/r.img\", \"is_root_device\": true}",
	       "drive_id");
	EXPECT(204, "PUT", "/drives/rootfs",
	       "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", \"is_root_device\": true}",
	       "");
	ck_assert_uint_eq(V.cfg.ndrives, 1);
	EXPECT(204, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", "");
	EXPECT(200, "GET", "/vm/config", NULL, "tap0");
	EXPECT(400, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", "before starting");
}
END_TEST

START_TEST(patch_drive_after_start_goes_to_the_device_first)
{
	drive_updates = 0;
	EXPECT(204, "PUT", "/drives/data",
	       "{\"drive_id\": \"data\", \"path_on_host\": \"/a.img\", \"is_root_device\": false}", "");
	start_vm();
	/* The device refuses: a 400 naming why, and the config keeps /a.img. */
	EXPECT(400, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/refused\"}",
	       "cannot open /refused");
	ck_assert_str_eq(V.cfg.drives[0].path_on_host, "/a.img");
	/* Only path_on_host and rate_limiter may change. */
	EXPECT(400, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"is_root_device\": true}",
	       "is_root_device");
	EXPECT(400, "PATCH", "/drives/ghost", "{\"drive_id\": \"ghost\", \"path_on_host\": \"/b.img\"}",
	       "ghost");
	ck_assert_int_eq(drive_updates, 0);
	EXPECT(204, "PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/b.img\"}", "");
	ck_assert_int_eq(drive_updates, 1);
	ck_assert_str_eq(V.cfg.drives[0].path_on_host, "/b.img");
	/* Network interfaces cannot be updated while running (yet): said so. */
	EXPECT(400, "PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", "not supported");
}
END_TEST

START_TEST(instance_start_once)
{
	EXPECT(400, "PATCH", "/vm", "{\"state\": \"Paused\"}", "before starting");
	ck_assert_int_eq(pauses, 0);
	start_vm();
	ck_assert_int_eq(starts, 1);
	EXPECT(400, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", "after starting");
	ck_assert_int_eq(starts, 1);
	EXPECT(400, "PUT", "/boot-source", "{\"kernel_image_path\": \"/other\"}", "after starting");
	ck_assert_str_eq(V.cfg.boot.kernel_image_path, "/k.elf");
	EXPECT(400, "PUT", "/machine-config", "{\"vcpu_count\": 4}", "after starting");
	EXPECT(400, "PUT", "/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", "
					 "\"is_root_device\": false}", "after starting");
	EXPECT(400, "PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"t\"}",
	       "after starting");
	EXPECT(400, "PUT", "/entropy", "{}", "after starting");
	ck_assert_uint_eq(V.cfg.machine.vcpu_count, 1);
}
END_TEST

START_TEST(failed_start_is_a_400_and_leaves_the_vm_unstarted)
{
	fail_start = 1;
	EXPECT(400, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", "kernel_image_path");
	EXPECT(200, "GET", "/", NULL, "Not started");
	fail_start = 0;
	start_vm();
	ck_assert_int_eq(starts, 2);
}
END_TEST

START_TEST(pause_and_resume)
{
	start_vm();
	EXPECT(204, "PATCH", "/vm", "{\"state\": \"Paused\"}", "");
	EXPECT(200, "GET", "/", NULL, "\"state\":\"Paused\"");
	EXPECT(204, "PATCH", "/vm", "{\"state\": \"Resumed\"}", "");
	EXPECT(200, "GET", "/", NULL, "\"state\":\"Running\"");
	ck_assert_int_eq(pauses, 1);
	ck_assert_int_eq(resumes, 1);
	EXPECT(400, "PATCH", "/vm", "{\"state\": \"Stopped\"}", "vm.state");
	EXPECT(400, "PATCH", "/vm", "{\"state\": 1}", "vm.state");
	EXPECT(400, "PATCH", "/vm", "{\"state\": \"Paused\", \"now\": true}", "now");
	EXPECT(400, "PATCH", "/vm", "{\"state\": \"Paused\",}", "invalid JSON");
	EXPECT(400, "PATCH", "/vm", "{}", "vm.state");
	ck_assert_int_eq(pauses, 1);
}
END_TEST

START_TEST(actions)
{
	EXPECT(400, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", "action_type");
	EXPECT(400, "PUT", "/actions", "{\"action_type\": 3}", "action_type");
	EXPECT(400, "PUT", "/actions", "{\"action\": \"InstanceStart\"}", "action");
	EXPECT(400, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", "before starting");
	EXPECT(400, "PUT", "/actions", "\"InstanceStart\"", "object");
	ck_assert_int_eq(starts + cads, 0);
	start_vm();
	EXPECT(204, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", "");
	ck_assert_int_eq(cads, 1);
	struct api_reply r;
	const char *stop = "{\"action_type\": \"StopVmm\"}";
	api_route(&A, "PUT", "/actions", stop, strlen(stop), &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert(r.stop_after);
	free(r.body);
}
END_TEST

START_TEST(metrics_and_logger)
{
	char path[] = "/tmp/mpvm-test-metrics-XXXXXX";
	make_tmp_file(path, "", 0);
	char body[128];
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", path);
	EXPECT(400, "PUT", "/metrics", "{\"metrics_path\": \"/nonexistent/dir/m\"}", "metrics_path");
	EXPECT(204, "PUT", "/metrics", body, "");
	EXPECT(204, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", "");
	FILE *f = fopen(path, "r");
	char line[8192] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(line, "\"PUT /metrics\":{\"400\":1,\"204\":1}"));
	ck_assert_ptr_nonnull(strstr(line, "\"utc_timestamp_ms\""));
	ck_assert_int_eq(line[strlen(line) - 1], '\n');
	metrics_close();
	unlink(path);
	EXPECT(400, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", "metrics");
	EXPECT(204, "PUT", "/logger", "{\"level\": \"Info\", \"show_level\": true}", "");
	ck_assert_int_eq(V.cfg.logger.level, CFG_LOG_INFO);
	ck_assert_int_eq(logger_calls, 1);
	EXPECT(204, "PUT", "/logger", "{\"level\": \"Warning\"}", "");
}
END_TEST

START_TEST(vcpus_and_pmu)
{
	EXPECT(400, "GET", "/vcpus", NULL, "before starting");
	EXPECT(400, "GET", "/pmu/counters", NULL, "before starting");
	EXPECT(400, "GET", "/pmu", NULL, "InstanceStart");
	EXPECT(204, "PUT", "/pmu/filter", "{\"action\": \"allow\", \"events\": "
					  "[{\"event_select\": 60, \"unit_mask\": 0}]}", "");
	ck_assert(V.cfg.pmu.filter.set);
	ck_assert_uint_eq(V.cfg.pmu.filter.nevents, 1);
	EXPECT(400, "PUT", "/pmu/filter", "{\"action\": \"maybe\"}", "action");
	ck_assert_uint_eq(V.cfg.pmu.filter.nevents, 1);
	EXPECT(200, "GET", "/pmu/filter", NULL, "allow");
	start_vm();
	EXPECT(200, "GET", "/vcpus", NULL, "\"vcpus\":[]");
	EXPECT(204, "PUT", "/pmu/filter", "{\"action\": \"deny\"}", "");
	ck_assert_int_eq(filters, 1);
	ck_assert_int_eq(V.cfg.pmu.filter.action, CFG_FILTER_DENY);
}
END_TEST

/* The text rule (base/utf8.h) on bodies and on the {id} in a path: a 400
 * that names the field, and nothing stored. */
#define DRIVE_BODY(id, path) \
	"{\"drive_id\": \"" id "\", \"path_on_host\": \"" path "\", \"is_root_device\": true}"
static const struct {
	const char *method, *path, *body, *needle;
} bad_text[] = {
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"boot_args\": \"a\xff\"}",
	 "boot-source.boot_args: not valid UTF-8 (byte 0xff at offset 1)"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"boot_args\": \"a\\u0000b\"}",
	 "boot-source.boot_args: contains a NUL character (\\\\u0000 at offset 1)"},
	{"PUT", "/drives/x", DRIVE_BODY("x\\u0000y", "/r"), "drive.drive_id: contains a NUL character"},
	{"PUT", "/drives/x", DRIVE_BODY("x", "/r\\u0000"), "drive.path_on_host: contains a NUL"},
	/* The path is decoded by the router: x%00y must not read as "x". */
	{"PUT", "/drives/x%00y", DRIVE_BODY("x", "/r"),
	 "PUT /drives/{id}: the id in the URL path: contains a NUL character (\\\\u0000 at offset 1)"},
	{"PUT", "/network-interfaces/e%FF", "{\"iface_id\": \"e\", \"host_dev_name\": \"tap0\"}",
	 "the id in the URL path: not valid UTF-8 (byte 0xff at offset 1)"},
	{"PUT", "/actions", "{\"action_type\": \"InstanceStart\\u0000\"}",
	 "actions.action_type: contains a NUL character"},
	{"PATCH", "/vm", "{\"st\xe2\x82\": \"Paused\"}", "vm: key \\\"st"},
	{"PUT", "/actions", "{\"action_type\": \"Go\"}", "actions.action_type: expected one of "
	 "InstanceStart, SendCtrlAltDel, FlushMetrics, StopVmm, got \\\"Go\\\""},
	{"PUT", "/actions", "{\"action\": \"InstanceStart\"}", "actions.action: unknown key"},
	{"PUT", "/actions", "{}", "actions.action_type: required"},
};

START_TEST(bad_text_is_a_400_naming_the_field)
{
	EXPECT(400, bad_text[_i].method, bad_text[_i].path, bad_text[_i].body, bad_text[_i].needle);
	ck_assert_ptr_null(V.cfg.boot.kernel_image_path);
	ck_assert_uint_eq(V.cfg.ndrives, 0);
	ck_assert_uint_eq(V.cfg.nnets, 0);
	ck_assert_int_eq(starts, 0);
}
END_TEST

START_TEST(encoded_ids_are_decoded_before_use)
{
	EXPECT(204, "PUT", "/drives/r%6F%6ft", DRIVE_BODY("root", "/r"), "");
	ck_assert_str_eq(V.cfg.drives[0].drive_id, "root");
}
END_TEST

/* Paths and methods are echoed clipped, with U+FFFD for what is not UTF-8. */
START_TEST(echoed_paths_stay_utf8)
{
	char path[400] = "/";
	EXPECT(404, "GET", "/nope%FF", NULL, "no resource at /nope\xef\xbf\xbd");
	EXPECT(404, "GET", "/nope\xc3", NULL, "no resource at /nope\xef\xbf\xbd");
	EXPECT(404, "GET", "/vm%00/config", NULL, "no resource at /vm\xef\xbf\xbd/config");
	EXPECT(405, "G\xffT", "/vm", NULL, "method G\xef\xbf\xbdT is not allowed");
	/* 2-byte characters from offset 1: a cut at 128 bytes would split one. */
	for (int i = 0; i < 150; i++)
		strcat(path, "\xc3\xa9");
	EXPECT(404, "GET", path, NULL, "\xc3\xa9\xe2\x80\xa6\"}");
	EXPECT(400, "PATCH", "/network-interfaces/%F0%9F%98%80", "{}", "before starting");
}
END_TEST

/* Firecracker's rules on bodies, before any handler runs, in its words. */
START_TEST(bodies_follow_firecrackers_rules)
{
	EXPECT(400, "GET", "/machine-config", "{}", "GET request cannot have a body.");
	EXPECT(400, "GET", "/", " ", "GET request cannot have a body.");
	EXPECT(400, "PATCH", "/machine-config", "", "Empty PATCH request.");
	EXPECT(400, "PUT", "/actions", "", "Empty PUT request.");
	EXPECT(400, "PATCH", "/mmds", "", "Empty PATCH request.");
	/* A PATCH that names no field is empty too (Firecracker's is_empty). */
	EXPECT(400, "PATCH", "/machine-config", "{}", "machine-config: Empty PATCH request.");
	EXPECT(400, "PATCH", "/machine-config", "{\"smt\": null}", "Empty PATCH request.");
	ck_assert_int_eq(starts, 0);
	/* Their swagger lets these two go without one. */
	EXPECT(400, "PATCH", "/balloon/hinting/stop", "", "virtio-balloon");
}
END_TEST

/* Every Firecracker resource mpvm lacks answers 400 naming the feature,
 * never 404; a PUT body is still checked as Firecracker defines it. */
static const struct {
	const char *method, *path, *body, *needle;
} fc_missing[] = {
	{"PUT", "/balloon", "{\"amount_mib\": \"lots\", \"deflate_on_oom\": false}",
	 "balloon.amount_mib: expected an integer"},
	{"PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"free_page_hinting\": true}",
	 "balloon.free_page_hinting: free page hinting is not supported"},
	{"GET", "/balloon", NULL, "No balloon device is configured"},
	{"PATCH", "/balloon", "{\"amount_mib\": 32}", "No balloon device is configured"},
	{"GET", "/balloon/statistics", NULL, "No balloon device is configured"},
	{"PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 5}", "No balloon device"},
	{"PATCH", "/balloon/hinting/start", "{\"acknowledge_on_stop\": true}", "virtio-balloon"},
	{"PATCH", "/balloon/hinting/start", NULL, "virtio-balloon"},
	{"GET", "/balloon/hinting/status", NULL, "virtio-balloon"},
	{"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\", \"cid\": 3}",
	 "vsock.cid: unknown key"},
	{"PUT", "/cpu-config", "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
	 "\"flags\": 0, \"modifiers\": []}]}", "(Firecracker feature: cpu-config)"},
	{"PUT", "/pmem/p0", "{\"id\": \"p0\", \"path_on_host\": \"/p.img\"}",
	 "pmem: virtio-pmem devices are not supported by mpvm yet"},
	{"PATCH", "/pmem/p0", "{\"id\": \"p0\"}", "PATCH /pmem/p0: virtio-pmem"},
	{"PUT", "/hotplug/memory", "{\"total_size_mib\": 2048}",
	 "memory-hotplug: memory hotplug is not supported by mpvm yet"},
	{"PATCH", "/hotplug/memory", "{\"requested_size_mib\": 512}", "virtio-mem"},
	{"GET", "/hotplug/memory", NULL, "virtio-mem"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}",
	 "machine-config.cpu_template: static CPU templates are not supported by mpvm yet"},
	{"PUT", "/drives/v", "{\"drive_id\": \"v\", \"is_root_device\": false, \"socket\": \"/s\"}",
	 "drive.socket: vhost-user block devices"},
	{"PUT", "/network-interfaces/e", "{\"iface_id\": \"e\", \"host_dev_name\": \"tap0\", "
	 "\"mtu\": 1500}", "network-interface.mtu: advertising an MTU"},
	{"PUT", "/logger", "{\"module\": \"api_server::request\"}", "logger.module: filtering"},
	{"PUT", "/serial", "{\"serial_out_path\": \"/tmp/s\", \"rate_limiter\": {\"size\": 1, "
	 "\"refill_time\": 1}}", "serial.rate_limiter: rate limiting the serial console"},
};

START_TEST(firecracker_resources_mpvm_lacks_name_the_feature)
{
	EXPECT(400, fc_missing[_i].method, fc_missing[_i].path, fc_missing[_i].body,
	       fc_missing[_i].needle);
	ck_assert_uint_eq(V.cfg.ndrives + V.cfg.nnets, 0);
	ck_assert(V.cfg.serial.kind == CFG_SERIAL_STDIO);
}
END_TEST

START_TEST(firecracker_no_op_bodies_are_accepted)
{
	EXPECT(204, "PUT", "/cpu-config", "{}", "");
	EXPECT(204, "PUT", "/cpu-config", "{\"kvm_capabilities\": [], \"msr_modifiers\": []}", "");
	EXPECT(204, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
					      "\"cpu_template\": \"None\", \"huge_pages\": \"Transparent\"}", "");
	EXPECT(200, "GET", "/machine-config", NULL, "\"huge_pages\":\"Transparent\"");
	EXPECT(204, "PUT", "/drives/r", "{\"drive_id\": \"r\", \"path_on_host\": \"/r\", "
					"\"is_root_device\": true, \"socket\": null}", "");
	/* Firecracker's serial shape is mpvm's file mode. */
	EXPECT(204, "PUT", "/serial", "{\"serial_out_path\": \"/tmp/console.log\"}", "");
	ck_assert_int_eq(V.cfg.serial.kind, CFG_SERIAL_FILE);
	ck_assert_str_eq(V.cfg.serial.path, "/tmp/console.log");
	start_vm();
	/* Pre-boot resources after start: Firecracker's words, even for the
	 * ones mpvm lacks. */
	EXPECT(400, "PUT", "/cpu-config", "{}", "after starting the microVM");
	EXPECT(400, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", "after starting");
	EXPECT(400, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}", "after starting");
	EXPECT(400, "PUT", "/mmds/config", "{\"network_interfaces\": []}", "after starting");
	EXPECT(400, "PUT", "/serial", "{\"serial_out_path\": \"/tmp/x\"}", "after starting");
}
END_TEST

START_TEST(metrics_are_set_up_once)
{
	char path[] = "/tmp/mpvm-test-metrics-XXXXXX", body[128];
	make_tmp_file(path, "", 0);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", path);
	EXPECT(204, "PUT", "/metrics", body, "");
	EXPECT(400, "PUT", "/metrics", body, "Reinitialization of metrics not allowed.");
	ck_assert_str_eq(V.cfg.metrics.metrics_path, path);
	metrics_close();
	unlink(path);
}
END_TEST

/* MMDS: Firecracker's data store API (host side), and its configuration. */
START_TEST(mmds_store_put_patch_get)
{
	EXPECT(200, "GET", "/mmds", NULL, "{}");
	EXPECT(400, "PATCH", "/mmds", "{\"a\": 1}", "The MMDS data store is not initialized.");
	EXPECT(204, "PUT", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", "
				    "\"reservation-id\": \"r-1\"}}, \"user-data\": \"x\"}", "");
	/* RFC 7396: objects merge, null removes, anything else replaces. */
	EXPECT(204, "PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-2\", "
				      "\"reservation-id\": null}}, \"user-data\": [1, 2], \"new\": true}", "");
	EXPECT(200, "GET", "/mmds", NULL, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-2\"}},"
					  "\"user-data\":[1,2],\"new\":true}");
	EXPECT(400, "PUT", "/mmds", "[1]", "mmds: expected a JSON object, got an array");
	EXPECT(400, "PATCH", "/mmds", "{\"a\": ", "mmds: invalid JSON");
	EXPECT(400, "PUT", "/mmds", "{\"k\": \"a\\u0000b\"}", "mmds.k: contains a NUL character");
	EXPECT(200, "GET", "/mmds", NULL, "\"new\":true}");
	/* Firecracker's limit on the store: a PATCH that would outgrow it is a 413. */
	size_t n = MMDS_MAX_BYTES - 100;
	char *big = malloc(n + 32);
	int off = snprintf(big, n + 32, "{\"pad\": \"");
	memset(big + off, 'a', n - (size_t)off - 4);
	strcpy(big + n - 4, "\"}");
	EXPECT(204, "PUT", "/mmds", big, "");
	EXPECT(413, "PATCH", "/mmds", "{\"more\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	       "The MMDS patch request doesn't fit.");
	EXPECT(204, "PATCH", "/mmds", "{\"pad\": \"small\"}", "");
	EXPECT(200, "GET", "/mmds", NULL, "{\"pad\":\"small\"}");
	free(big);
	/* The store works before and after start, as in Firecracker. */
	start_vm();
	EXPECT(204, "PUT", "/mmds", "{}", "");
}
END_TEST

START_TEST(mmds_config_names_configured_interfaces)
{
	EXPECT(400, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}",
	       "mmds-config.network_interfaces: \\\"eth0\\\" is not a configured network interface");
	EXPECT(204, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", "");
	EXPECT(204, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V2\", "
					   "\"ipv4_address\": \"169.254.170.2\"}", "");
	ck_assert(V.cfg.mmds.set);
	ck_assert_int_eq(V.cfg.mmds.version, CFG_MMDS_V2);
	EXPECT(400, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V9\"}",
	       "mmds-config.version");
	EXPECT(200, "GET", "/vm/config", NULL, "169.254.170.2");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_router");
	TCase *tc = tcase_create("router");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, root_and_version_always_answer);
	tcase_add_test(tc, machine_config_put_get_patch);
	tcase_add_test(tc, bad_bodies_name_the_field_and_change_nothing);
	tcase_add_test(tc, oversize_and_nul_bodies_are_refused);
	tcase_add_test(tc, unknown_path_404_wrong_method_405);
	tcase_add_test(tc, drives_and_nets_take_their_id_from_the_path);
	tcase_add_test(tc, patch_drive_after_start_goes_to_the_device_first);
	tcase_add_test(tc, instance_start_once);
	tcase_add_test(tc, failed_start_is_a_400_and_leaves_the_vm_unstarted);
	tcase_add_test(tc, pause_and_resume);
	tcase_add_test(tc, snapshot_create_needs_a_paused_vm);
	tcase_add_test(tc, snapshot_load_takes_firecrackers_body_on_a_fresh_vmm);
	tcase_add_test(tc, snapshot_load_is_refused_after_boot_config);
	tcase_add_test(tc, actions);
	tcase_add_test(tc, metrics_and_logger);
	tcase_add_test(tc, vcpus_and_pmu);
	tcase_add_loop_test(tc, bad_text_is_a_400_naming_the_field, 0,
			    sizeof(bad_text) / sizeof(bad_text[0]));
	tcase_add_test(tc, encoded_ids_are_decoded_before_use);
	tcase_add_test(tc, echoed_paths_stay_utf8);
	tcase_add_test(tc, bodies_follow_firecrackers_rules);
	tcase_add_loop_test(tc, firecracker_resources_mpvm_lacks_name_the_feature, 0,
			    sizeof(fc_missing) / sizeof(fc_missing[0]));
	tcase_add_test(tc, firecracker_no_op_bodies_are_accepted);
	tcase_add_test(tc, metrics_are_set_up_once);
	tcase_add_test(tc, mmds_store_put_patch_get);
	tcase_add_test(tc, mmds_config_names_configured_interfaces);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
