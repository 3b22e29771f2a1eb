/* `mpvm run` flags: what a user typing a command line gets. */
#include "config/config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"

static struct vm_config cfg;
static struct run_opts opts;
static char err[CFG_ERR_LEN];
static char file[64];

static void write_file(const char *text)
{
	strcpy(file, "/tmp/mpvm-test-cli-XXXXXX");
	make_tmp_file(file, text, strlen(text));
}

static void setup(void)
{
	vm_config_init(&cfg);
	memset(&opts, 0, sizeof(opts));
	err[0] = 0;
	write_file("{\"boot-source\": {\"kernel_image_path\": \"/file/vmlinux\", \"boot_args\": \"quiet\"},\n"
		   " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256},\n"
		   " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/file/rootfs\",\n"
		   "              \"is_root_device\": true, \"io_engine\": \"Async\"}],\n"
		   " \"pmu\": {\"mode\": \"soft\", \"gp_counters\": 2,\n"
		   "         \"filter\": {\"action\": \"deny\", \"events\": [{\"event_select\": 1}]}},\n"
		   " \"debug\": {\"exit_port\": true}}\n");
}

static void teardown(void)
{
	unlink(file);
	vm_config_free(&cfg);
	run_opts_free(&opts);
}

/* run("--cpus", "2", NULL): parses as `mpvm run --cpus 2`. */
static int run(const char *first, ...)
{
	char *argv[64];
	int argc = 0, rc;
	va_list ap;

	argv[argc++] = strdup("run");
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = strdup(a);
	va_end(ap);
	argv[argc] = NULL;
	rc = cfg_parse_run_args(&cfg, &opts, argc, argv, err, sizeof(err));
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

START_TEST(flags_override_the_file_wherever_it_is)
{
	/* --config-file last: it still loads first, so --cpus wins. */
	ck_assert_msg(run("--cpus", "4", "--serial", "none", "--config-file", file, NULL) == 0,
		      "%s", err);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 4);
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 256);                  /* from the file */
	ck_assert_str_eq(cfg.boot.kernel_image_path, "/file/vmlinux");    /* from the file */
	ck_assert(cfg.debug.exit_port);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_NONE);
	ck_assert_str_eq(opts.config_file, file);

	ck_assert_msg(run("--config-file", file, "--kernel", "/cli/bzImage", "--cmdline", "",
			  "--memory", "1G", "--no-exit-port", "--pmu", "off", NULL) == 0, "%s", err);
	ck_assert_str_eq(cfg.boot.kernel_image_path, "/cli/bzImage");
	ck_assert_str_eq(cfg.boot.boot_args, "");
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 1024);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 2);
	ck_assert(!cfg.debug.exit_port);
	ck_assert_int_eq(cfg.pmu.mode, CFG_PMU_OFF);
	ck_assert_int_eq(cfg.pmu.gp_counters, 2); /* untouched by the flags */
}
END_TEST

START_TEST(repeated_drive_and_net)
{
	ck_assert_msg(run("--config-file", file,
			  "--drive", "id=rootfs,path=/cli/root.ext4,root,ro",
			  "--drive", "id=data,path=/cli/data.img,engine=async,cache=writeback",
			  "--drive", "id=logs,path=/cli/logs.img",
			  "--net", "id=eth0,tap=tap0,mac=06:00:AC:10:00:02",
			  "--net", "id=eth1,tap=tap1", NULL) == 0, "%s", err);
	ck_assert_uint_eq(cfg.ndrives, 3);
	/* Same id as the file's drive: replaced in place, not appended. */
	ck_assert_str_eq(cfg.drives[0].drive_id, "rootfs");
	ck_assert_str_eq(cfg.drives[0].path_on_host, "/cli/root.ext4");
	ck_assert(cfg.drives[0].is_root_device && cfg.drives[0].is_read_only);
	ck_assert_int_eq(cfg.drives[0].io_engine, CFG_IO_SYNC);
	ck_assert_str_eq(cfg.drives[1].drive_id, "data");
	ck_assert_int_eq(cfg.drives[1].io_engine, CFG_IO_ASYNC);
	ck_assert_int_eq(cfg.drives[1].cache_type, CFG_CACHE_WRITEBACK);
	ck_assert(!cfg.drives[2].is_root_device && !cfg.drives[2].is_read_only);
	ck_assert_uint_eq(cfg.nnets, 2);
	ck_assert(cfg.nets[0].has_mac && cfg.nets[0].guest_mac[2] == 0xac);
	ck_assert_str_eq(cfg.nets[1].host_dev_name, "tap1");
	ck_assert(!cfg.nets[1].has_mac);
}
END_TEST

START_TEST(memory_suffixes)
{
	static const struct {
		const char *arg;
		uint64_t mib;
	} ok[] = {{"512", 512}, {"512M", 512}, {"512m", 512}, {"512MiB", 512},
		  {"2G", 2048}, {"1GiB", 1024}, {"1024G", 1024 * 1024}};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(run("--memory", ok[i].arg, NULL) == 0, "%s: %s", ok[i].arg, err);
		ck_assert_uint_eq(cfg.machine.mem_size_mib, ok[i].mib);
	}
	ck_assert_int_eq(run("--memory", "1.5G", NULL), -1);
	ck_assert_str_eq(err, "--memory: expected a size like 512, 512M or 2G (1..1048576 MiB), "
			 "got \"1.5G\"");
	ck_assert_int_eq(run("--memory", "1025G", NULL), -1);
	ck_assert_int_eq(run("--memory", "0", NULL), -1);
	ck_assert_int_eq(run("--memory", "512K", NULL), -1);
	ck_assert_int_eq(run("--memory", "", NULL), -1);
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 1024 * 1024); /* last good value */
}
END_TEST

START_TEST(serial_pmu_logging_and_api_flags)
{
	ck_assert_msg(run("--serial", "file:/tmp/console.log", "--pmu", "Mediated",
			  "--pmu-version", "2", "--pmu-gp-counters", "8", "--pmu-fixed-counters", "3",
			  "--pmu-gp-width", "48", "--pmu-fixed-width", "48",
			  "--pmu-trap-event-selects", "--pmu-filter-allow", "c0,2e:4f",
			  "--pmu-filter-allow", "0x3c", "--huge-pages", "--entropy",
			  "--log-level", "debug", "--log-path", "/tmp/l", "--metrics-path", "/tmp/m",
			  "--api-sock", "/tmp/api.sock", "--id", "vm-1", "--no-boot-marker",
			  "--exit-port", "--initrd", "/i", "--boot-args", "x=1", NULL) == 0, "%s", err);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_FILE);
	ck_assert_str_eq(cfg.serial.path, "/tmp/console.log");
	ck_assert_int_eq(cfg.pmu.mode, CFG_PMU_MEDIATED);
	ck_assert_int_eq(cfg.pmu.version, 2);
	ck_assert_int_eq(cfg.pmu.gp_counters, 8);
	ck_assert_int_eq(cfg.pmu.fixed_counters, 3);
	ck_assert_int_eq(cfg.pmu.gp_width, 48);
	ck_assert_int_eq(cfg.pmu.fixed_width, 48);
	ck_assert(cfg.pmu.trap_event_selects);
	ck_assert(cfg.pmu.filter.set && cfg.pmu.filter.action == CFG_FILTER_ALLOW);
	ck_assert_uint_eq(cfg.pmu.filter.nevents, 3);
	ck_assert_uint_eq(cfg.pmu.filter.events[1].event_select, 0x2e);
	ck_assert_uint_eq(cfg.pmu.filter.events[1].unit_mask, 0x4f);
	ck_assert_uint_eq(cfg.pmu.filter.events[2].event_select, 0x3c);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_2M);
	ck_assert(cfg.entropy.enabled);
	ck_assert_int_eq(cfg.logger.level, CFG_LOG_DEBUG);
	ck_assert_str_eq(cfg.logger.log_path, "/tmp/l");
	ck_assert_str_eq(cfg.metrics.metrics_path, "/tmp/m");
	ck_assert_str_eq(opts.api_sock, "/tmp/api.sock");
	ck_assert_str_eq(opts.id, "vm-1");
	ck_assert(!opts.no_api);
	ck_assert(!cfg.debug.boot_marker && cfg.debug.exit_port);
	ck_assert_str_eq(cfg.boot.initrd_path, "/i");
	ck_assert_str_eq(cfg.boot.boot_args, "x=1");

	/* The file's deny filter is replaced by the flag, not merged. */
	ck_assert_msg(run("--config-file", file, "--pmu-filter-allow", "c0", NULL) == 0, "%s", err);
	ck_assert_int_eq(cfg.pmu.filter.action, CFG_FILTER_ALLOW);
	ck_assert_uint_eq(cfg.pmu.filter.nevents, 1);

	ck_assert_int_eq(run("--serial", "socket:/tmp/s", "--no-api", NULL), 0);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_SOCKET);
	ck_assert(opts.no_api);
	ck_assert_ptr_null(opts.api_sock); /* opts describe the latest command line only */
}
END_TEST

/* Names (any case) or a bitmask of CPUID leaf 0xA EBX bits; the last flag
 * wins, over the file too. */
START_TEST(pmu_unavailable_events_flag)
{
	ck_assert_msg(run("--pmu-unavailable-events", "branches,LLC_MISSES", NULL) == 0, "%s", err);
	ck_assert_uint_eq(cfg.pmu.unavailable_events,
			  (1u << CFG_PMU_EV_BRANCHES) | (1u << CFG_PMU_EV_LLC_MISSES));
	ck_assert_msg(run("--pmu-unavailable-events", "core_cycles", "--pmu-unavailable-events",
			  "0x5", NULL) == 0, "%s", err);
	ck_assert_uint_eq(cfg.pmu.unavailable_events, 5);
}
END_TEST

/* Each bad command line and the exact message the user sees. */
static const struct {
	const char *args[5];
	const char *err;
} bad[] = {
	{{"--cpus", "x"}, "--cpus: expected an integer in 1..32, got \"x\""},
	{{"--cpus", "0"}, "--cpus: expected an integer in 1..32, got \"0\""},
	{{"--cpus", "-2"}, "--cpus: expected an integer in 1..32, got \"-2\""},
	{{"--cpus", " 2"}, "--cpus: expected an integer in 1..32, got \" 2\""},
	{{"--pmu", "on"}, "--pmu: expected one of auto, off, mediated, legacy, soft, got \"on\""},
	{{"--pmu-gp-counters", "33"}, "--pmu-gp-counters: expected an integer in 0..32, got \"33\""},
	{{"--pmu-version", "6"}, "--pmu-version: expected an integer in 0..5, got \"6\""},
	{{"--serial", "tcp:1234"}, "--serial: expected stdio, none, file:PATH or socket:PATH, got "
	 "\"tcp:1234\""},
	{{"--serial", "file:"}, "--serial: expected stdio, none, file:PATH or socket:PATH, got "
	 "\"file:\""},
	{{"--log-level", "loud"}, "--log-level: expected one of Off, Error, Warning, Info, Debug, "
	 "Trace, Warn, got \"loud\""},
	{{"--kernel", ""}, "--kernel: expected a non-empty value"},
	{{"--drive", "id=data"}, "--drive: needs id=ID and path=PATH, got \"id=data\""},
	{{"--drive", "id=d,path=/d,readonly"}, "--drive: unknown item \"readonly\" (expected id=, "
	 "path=, ro, root, engine=, cache=)"},
	{{"--drive", "id=d,path=/d,engine=fast"}, "--drive: expected one of sync, async, got "
	 "\"fast\""},
	{{"--drive", "id=d d,path=/d"}, "--drive: id: expected 1..64 characters of A-Z a-z 0-9 _ -, "
	 "got \"d d\""},
	{{"--drive", "id=d,path=/d,ro=yes"}, "--drive: ro: takes no value, got \"ro=yes\""},
	{{"--drive", "id=b,path=/b,root"}, "--drive: root: drive \"rootfs\" is already the root "
	 "device"},
	{{"--net", "id=e0,tap=tap0,mac=06:00:ac:10:00"}, "--net: mac: expected a MAC address like "
	 "06:00:ac:10:00:02, got \"06:00:ac:10:00\""},
	{{"--net", "id=e0"}, "--net: needs id=ID and tap=NAME, got \"id=e0\""},
	{{"--net", "id=e0,tap=t", "--net", "id=e1,tap=t"},
	 "--net: tap: \"t\" is already used by interface \"e0\""},
	{{"--pmu-filter-allow", "c0,zz"}, "--pmu-filter-allow: expected EVENT[:UMASK] in hex (like "
	 "c0 or 2e:4f), got \"zz\""},
	{{"--pmu-filter-deny", "c0:100"}, "--pmu-filter-deny: expected EVENT[:UMASK] in hex (like "
	 "c0 or 2e:4f), got \"c0:100\""},
	{{"--pmu-filter-allow", "c0", "--pmu-filter-deny", "c0"},
	 "--pmu-filter-deny: conflicts with --pmu-filter-allow: a filter has one action"},
	{{"--pmu-unavailable-events", "instructions,bogus"}, "--pmu-unavailable-events: unknown "
	 "architectural event \"bogus\" (expected \"core_cycles\", \"instructions\", "
	 "\"reference_cycles\", \"llc_references\", \"llc_misses\", \"branches\", "
	 "\"branch_misses\", or a hex bitmask like 0x12)"},
	{{"--pmu-unavailable-events", "0x80"}, "--pmu-unavailable-events: bitmask 0x80 has bits "
	 "beyond the 7 architectural events (0x7f)"},
	{{"--pmu-unavailable-events", ""}, "--pmu-unavailable-events: unknown architectural event "
	 "\"\" (expected \"core_cycles\", \"instructions\", \"reference_cycles\", "
	 "\"llc_references\", \"llc_misses\", \"branches\", \"branch_misses\", or a hex bitmask "
	 "like 0x12)"},
	{{"--api-sock", "/s", "--no-api"}, "--no-api: conflicts with --api-sock"},
	{{"--cpu", "2"}, "unknown option \"--cpu\" (did you mean --cpus?)"},
	{{"--mem=2G"}, "unknown option \"--mem\" (did you mean --memory?)"},
	{{"--pmu-f", "2"}, "unknown or ambiguous option \"--pmu-f\" (see mpvm run --help)"},
	{{"--entropy=1"}, "--entropy: takes no value, got \"--entropy=1\""},
	{{"--cpus"}, "--cpus: expected a value"},
	{{"--cpus", "2", "extra"}, "unexpected argument \"extra\" (flags start with --)"},
	{{"--config-file", "/a", "--config-file", "/b"}, "--config-file: given twice"},
	{{"--config-file", "/nonexistent/mpvm.json"}, "/nonexistent/mpvm.json: No such file or "
	 "directory"},
	/* The text rule (base/utf8.h) on every value; echoed arguments that
	 * break it show U+FFFD. */
	{{"--boot-args", "a\xff"}, "--boot-args: not valid UTF-8 (byte 0xff at offset 1)"},
	{{"--cmdline", "ok", "--kernel", "/k\xc0\x80"},
	 "--kernel: not valid UTF-8 (byte 0xc0 at offset 2)"},
	{{"--drive", "id=a,path=/\xed\xa0\x80"}, "--drive: not valid UTF-8 (byte 0xed at offset 11)"},
	{{"--config-file", "/x\xf4\x90\x80\x80"},
	 "--config-file: not valid UTF-8 (byte 0xf4 at offset 2)"},
	{{"--bogus\xff"}, "unknown or ambiguous option \"--bogus\xef\xbf\xbd\" (see mpvm run --help)"},
	{{"--cpus", "2", "x\xe2\x82"}, "unexpected argument \"x\xef\xbf\xbd\xef\xbf\xbd\" (flags "
	 "start with --)"},
};

START_TEST(bad_flags_name_the_flag_and_change_nothing)
{
	char *argv[8] = {"run"};
	int argc = 1;
	char *before, *after;

	ck_assert_int_eq(run("--config-file", file, "--api-sock", "/keep.sock", NULL), 0);
	before = vm_config_to_json(&cfg);
	for (int i = 0; i < 5 && bad[_i].args[i]; i++)
		argv[argc++] = (char *)bad[_i].args[i];
	ck_assert_int_lt(cfg_parse_run_args(&cfg, &opts, argc, argv, err, sizeof(err)), 0);
	ck_assert_str_eq(err, bad[_i].err);
	after = vm_config_to_json(&cfg);
	ck_assert_str_eq(before, after);
	ck_assert_str_eq(opts.api_sock, "/keep.sock");
	free(before);
	free(after);
}
END_TEST

START_TEST(too_many_drives)
{
	char spec[CFG_MAX_DRIVES + 1][32];
	char *argv[2 * (CFG_MAX_DRIVES + 1) + 1] = {"run"};
	int argc = 1;

	for (int i = 0; i <= CFG_MAX_DRIVES; i++) {
		snprintf(spec[i], sizeof(spec[i]), "id=d%d,path=/d%d", i, i);
		argv[argc++] = "--drive";
		argv[argc++] = spec[i];
	}
	ck_assert_int_eq(cfg_parse_run_args(&cfg, &opts, argc, argv, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--drive: at most 8 drives");
	ck_assert_uint_eq(cfg.ndrives, 0);
	ck_assert_int_eq(cfg_parse_run_args(&cfg, &opts, argc - 2, argv, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.ndrives, CFG_MAX_DRIVES);
}
END_TEST

START_TEST(help_applies_nothing)
{
	ck_assert_int_eq(run("--cpus", "4", "-h", NULL), 1);
	ck_assert(opts.help);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 1);
	ck_assert_int_eq(run("--help", NULL), 1);
	ck_assert(opts.help);
}
END_TEST

/* The caller picks the exit code: a bad file is not a usage error. */
START_TEST(bad_config_file_is_told_apart_from_bad_flags)
{
	char want[CFG_ERR_LEN];

	ck_assert_int_eq(run("--config-file", file, "--cpus", "99", NULL), -1);
	unlink(file);
	write_file("{\"machine-config\": {\"vcpu_count\": 99, \"mem_size_mib\": 1}}");
	ck_assert_int_eq(run("--config-file", file, "--cpus", "2", NULL), -2);
	snprintf(want, sizeof(want), "%s: machine-config.vcpu_count: expected an integer in 1..32, "
		 "got 99", file);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 1);
}
END_TEST

START_TEST(usage_lists_every_flag)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const flags[] = {
		"--config-file", "--kernel", "--initrd", "--cmdline", "--boot-args", "--cpus",
		"--memory", "--huge-pages", "--serial", "--exit-port", "--no-exit-port",
		"--no-boot-marker", "--pmu ", "--pmu-gp-counters", "--pmu-fixed-counters",
		"--pmu-version", "--pmu-trap-event-selects", "--pmu-filter-allow",
		"--pmu-filter-deny", "--drive", "--net", "--entropy", "--log-level", "--log-path",
		"--metrics-path", "--api-sock", "--no-api", "--help"};

	cfg_print_run_usage(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(text, flags[i]), "usage lacks %s", flags[i]);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, flags_override_the_file_wherever_it_is);
	tcase_add_test(tc, repeated_drive_and_net);
	tcase_add_test(tc, memory_suffixes);
	tcase_add_test(tc, serial_pmu_logging_and_api_flags);
	tcase_add_test(tc, pmu_unavailable_events_flag);
	tcase_add_loop_test(tc, bad_flags_name_the_flag_and_change_nothing, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, too_many_drives);
	tcase_add_test(tc, help_applies_nothing);
	tcase_add_test(tc, bad_config_file_is_told_apart_from_bad_flags);
	tcase_add_test(tc, usage_lists_every_flag);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
