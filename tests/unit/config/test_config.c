/* Config file, API sections, JSON output and validation: what an operator or
 * an orchestrator gets for good and for bad input. */
#include "config/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"

/* Every section, with values that differ from the defaults. */
static const char FULL[] =
	"{\n"
	"  \"boot-source\": {\"kernel_image_path\": \"/img/vmlinux\",\n"
	"                  \"boot_args\": \"console=ttyS0 reboot=k\", \"initrd_path\": \"/img/initrd\"},\n"
	"  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true,\n"
	"                     \"track_dirty_pages\": true, \"huge_pages\": \"2M\"},\n"
	"  \"drives\": [\n"
	"    {\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/rootfs.ext4\", \"is_root_device\": true,\n"
	"     \"is_read_only\": false, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\",\n"
	"     \"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, \"one_time_burst\": 4096, \"refill_time\": 100},\n"
	"                      \"ops\": {\"size\": 1000, \"refill_time\": 1000}}},\n"
	"    {\"drive_id\": \"scratch\", \"path_on_host\": \"/img/scratch.img\", \"is_root_device\": false,\n"
	"     \"is_read_only\": true, \"partuuid\": \"0eaa91a0-01\"}\n"
	"  ],\n"
	"  \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\",\n"
	"     \"guest_mac\": \"06:00:AC:10:00:02\", \"rx_rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 5}}}],\n"
	"  \"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}},\n"
	"  \"vsock\": {\"guest_cid\": 52, \"uds_path\": \"/tmp/fc.vsock\", \"vsock_id\": \"vsock0\"},\n"
	"  \"logger\": {\"log_path\": \"/tmp/mpvm.log\", \"level\": \"debug\", \"show_level\": true,\n"
	"             \"show_log_origin\": true},\n"
	"  \"metrics\": {\"metrics_path\": \"/tmp/mpvm.metrics\"},\n"
	"  \"pmu\": {\"mode\": \"soft\", \"version\": 2, \"gp_counters\": 4, \"fixed_counters\": 3,\n"
	"          \"gp_width\": 48, \"fixed_width\": 40, \"trap_event_selects\": true,\n"
	"          \"filter\": {\"action\": \"deny\", \"fixed_counter_bitmap\": 5,\n"
	"                     \"events\": [{\"event_select\": \"0xc0\"}, {\"event_select\": 46, \"unit_mask\": \"0x4f\"}]}},\n"
	"  \"serial\": {\"mode\": \"file\", \"path\": \"/tmp/console.log\"},\n"
	"  \"debug\": {\"exit_port\": true, \"boot_marker\": false}\n"
	"}\n";

#define ROOT_DRIVE "{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":true}"

static struct vm_config cfg;
static char err[CFG_ERR_LEN];

static void setup(void)
{
	vm_config_init(&cfg);
	err[0] = 0;
}

static void teardown(void)
{
	vm_config_free(&cfg);
}

static void load_ok(struct vm_config *c, const char *json)
{
	int rc = vm_config_load_json(c, json, err, sizeof(err));

	ck_assert_msg(rc == 0, "unexpected error: %s", err);
}

/* The config as JSON text: two configs are equal when these are. */
static char *dump(const struct vm_config *c)
{
	char *s = vm_config_to_json(c);

	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(defaults)
{
	ck_assert_uint_eq(cfg.machine.vcpu_count, 1);
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 128);
	ck_assert(!cfg.machine.smt);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_NONE);
	ck_assert_int_eq(cfg.pmu.mode, CFG_PMU_AUTO);
	ck_assert_int_eq(cfg.pmu.version, -1);
	ck_assert_int_eq(cfg.pmu.gp_counters, -1);
	ck_assert_int_eq(cfg.pmu.fixed_counters, -1);
	ck_assert_int_eq(cfg.pmu.gp_width, -1);
	ck_assert_int_eq(cfg.pmu.fixed_width, -1);
	ck_assert(!cfg.pmu.trap_event_selects);
	ck_assert(!cfg.pmu.filter.set);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_STDIO);
	ck_assert(!cfg.debug.exit_port);
	ck_assert(cfg.debug.boot_marker);
	ck_assert_int_eq(cfg.logger.level, CFG_LOG_WARNING);
	ck_assert_uint_eq(cfg.ndrives, 0);
	ck_assert(!cfg.entropy.enabled);
}
END_TEST

START_TEST(full_config_parses_into_every_field)
{
	const struct cfg_drive *root = &cfg.drives[0], *scratch = &cfg.drives[1];
	const struct cfg_net *n = &cfg.nets[0];
	const uint8_t mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};

	load_ok(&cfg, FULL);
	ck_assert_str_eq(cfg.boot.kernel_image_path, "/img/vmlinux");
	ck_assert_str_eq(cfg.boot.boot_args, "console=ttyS0 reboot=k");
	ck_assert_str_eq(cfg.boot.initrd_path, "/img/initrd");
	ck_assert_uint_eq(cfg.machine.vcpu_count, 2);
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 256);
	ck_assert(cfg.machine.smt && cfg.machine.track_dirty_pages);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_2M);

	ck_assert_uint_eq(cfg.ndrives, 2);
	ck_assert_str_eq(root->drive_id, "rootfs");
	ck_assert_str_eq(root->path_on_host, "/img/rootfs.ext4");
	ck_assert(root->is_root_device && !root->is_read_only);
	ck_assert_int_eq(root->cache_type, CFG_CACHE_WRITEBACK);
	ck_assert_int_eq(root->io_engine, CFG_IO_ASYNC);
	ck_assert(root->rate_limiter.bandwidth.set && root->rate_limiter.ops.set);
	ck_assert_uint_eq(root->rate_limiter.bandwidth.size, 1048576);
	ck_assert_uint_eq(root->rate_limiter.bandwidth.one_time_burst, 4096);
	ck_assert_uint_eq(root->rate_limiter.bandwidth.refill_time_ms, 100);
	ck_assert_uint_eq(root->rate_limiter.ops.size, 1000);
	ck_assert_str_eq(scratch->partuuid, "0eaa91a0-01");
	ck_assert(scratch->is_read_only && !scratch->is_root_device);
	ck_assert_int_eq(scratch->io_engine, CFG_IO_SYNC);     /* default */
	ck_assert_int_eq(scratch->cache_type, CFG_CACHE_UNSAFE); /* default */
	ck_assert(!scratch->rate_limiter.bandwidth.set);

	ck_assert_uint_eq(cfg.nnets, 1);
	ck_assert_str_eq(n->iface_id, "eth0");
	ck_assert_str_eq(n->host_dev_name, "tap0");
	ck_assert(n->has_mac && !memcmp(n->guest_mac, mac, 6));
	ck_assert(n->rx_rate_limiter.ops.set && !n->rx_rate_limiter.bandwidth.set);
	ck_assert(!n->tx_rate_limiter.ops.set);

	ck_assert(cfg.entropy.enabled);
	ck_assert_uint_eq(cfg.entropy.rate_limiter.bandwidth.size, 1000);
	ck_assert(cfg.vsock.enabled);
	ck_assert_uint_eq(cfg.vsock.guest_cid, 52);
	ck_assert_str_eq(cfg.vsock.uds_path, "/tmp/fc.vsock");
	ck_assert_str_eq(cfg.vsock.vsock_id, "vsock0");
	ck_assert_str_eq(cfg.logger.log_path, "/tmp/mpvm.log");
	ck_assert_int_eq(cfg.logger.level, CFG_LOG_DEBUG); /* case-insensitive */
	ck_assert(cfg.logger.show_level && cfg.logger.show_log_origin);
	ck_assert_str_eq(cfg.metrics.metrics_path, "/tmp/mpvm.metrics");

	ck_assert_int_eq(cfg.pmu.mode, CFG_PMU_SOFT);
	ck_assert_int_eq(cfg.pmu.version, 2);
	ck_assert_int_eq(cfg.pmu.gp_counters, 4);
	ck_assert_int_eq(cfg.pmu.fixed_counters, 3);
	ck_assert_int_eq(cfg.pmu.gp_width, 48);
	ck_assert_int_eq(cfg.pmu.fixed_width, 40);
	ck_assert(cfg.pmu.trap_event_selects);
	ck_assert(cfg.pmu.filter.set);
	ck_assert_int_eq(cfg.pmu.filter.action, CFG_FILTER_DENY);
	ck_assert_uint_eq(cfg.pmu.filter.fixed_counter_bitmap, 5);
	ck_assert_uint_eq(cfg.pmu.filter.nevents, 2);
	ck_assert_uint_eq(cfg.pmu.filter.events[0].event_select, 0xc0);
	ck_assert_uint_eq(cfg.pmu.filter.events[1].event_select, 0x2e);
	ck_assert_uint_eq(cfg.pmu.filter.events[1].unit_mask, 0x4f);

	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_FILE);
	ck_assert_str_eq(cfg.serial.path, "/tmp/console.log");
	ck_assert(cfg.debug.exit_port && !cfg.debug.boot_marker);
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

/* Each bad input and the exact message an operator sees. */
static const struct {
	const char *json;
	const char *err;
} bad[] = {
	{"{\"machine\": {}}", "machine: unknown key (expected one of boot-source, machine-config, "
	 "drives, network-interfaces, entropy, logger, metrics, mmds-config, balloon, vsock, "
	 "cpu-config, pmem, memory-hotplug, pmu, serial, debug)"},
	{"{\"machine-config\": {\"vcpus\": 2}}", "machine-config.vcpus: unknown key (expected one "
	 "of vcpu_count, mem_size_mib, smt, track_dirty_pages, huge_pages, cpu_template)"},
	{"{\"drives\": [" ROOT_DRIVE ", {\"drive_id\": \"b\", \"path_on_host\": \"/b\", "
	 "\"is_root_device\": false, \"readonly\": true}]}",
	 "drives[1].readonly: unknown key (expected one of drive_id, path_on_host, is_root_device, "
	 "is_read_only, partuuid, cache_type, io_engine, rate_limiter, socket)"},
	{"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, "
	 "\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"burst\": 1}}}]}",
	 "drives[0].rate_limiter.bandwidth.burst: unknown key (expected one of size, "
	 "one_time_burst, refill_time)"},
	{"{\"machine-config\": {\"vcpu_count\": \"two\", \"mem_size_mib\": 128}}",
	 "machine-config.vcpu_count: expected an integer in 1..32, got \"two\""},
	{"{\"drives\": [" ROOT_DRIVE ", {\"drive_id\": \"b\", \"path_on_host\": 3, "
	 "\"is_root_device\": false}]}", "drives[1].path_on_host: expected a string, got 3"},
	{"{\"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 128}}",
	 "machine-config.vcpu_count: expected an integer in 1..32, got 33"},
	{"{\"machine-config\": {\"vcpu_count\": -1, \"mem_size_mib\": 128}}",
	 "machine-config.vcpu_count: expected an integer in 1..32, got -1"},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1.5}}",
	 "machine-config.mem_size_mib: expected an integer in 1..1048576, got 1.5"},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": \"yes\"}}",
	 "machine-config.smt: expected true or false, got \"yes\""},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"4M\"}}",
	 "machine-config.huge_pages: expected one of \"None\", \"2M\", \"Transparent\", got "
	 "\"4M\""},
	/* Firecracker's keys that ask for a feature mpvm lacks: checked as
	 * Firecracker defines them, then refused naming the feature. */
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"C3\"}}",
	 "machine-config.cpu_template: static CPU templates are not supported by mpvm yet "
	 "(Firecracker feature: machine-config.cpu_template); use \"None\""},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T9\"}}",
	 "machine-config.cpu_template: expected one of \"None\", \"C3\", \"T2\", \"T2S\", \"T2CL\", "
	 "\"T2A\", \"V1N1\", got \"T9\""},
	{"{\"balloon\": {\"amount_mib\": 64, \"deflate_on_oom\": true, \"free_page_hinting\": true}}",
	 "balloon.free_page_hinting: free page hinting is not supported by mpvm yet "
	 "(Firecracker feature: virtio-balloon free page hinting; free_page_reporting is supported)"},
	{"{\"balloon\": {\"amount_mib\": 64}}", "balloon.deflate_on_oom: required field is missing"},
	{"{\"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v.sock\"}}",
	 "vsock.guest_cid: expected an integer in 3..4294967295, got 2"},
	{"{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v.sock\", \"cid\": 3}}",
	 "vsock.cid: unknown key (expected one of guest_cid, uds_path, vsock_id)"},
	{"{\"cpu-config\": {\"kvm_capabilities\": [\"!121\"]}}",
	 "cpu-config: custom CPU templates (cpuid, MSR, register or KVM capability modifiers) are "
	 "not supported by mpvm yet (Firecracker feature: cpu-config)"},
	{"{\"cpu-config\": {\"cpuid\": []}}", "cpu-config.cpuid: unknown key (expected one of "
	 "kvm_capabilities, cpuid_modifiers, msr_modifiers, reg_modifiers, vcpu_features)"},
	{"{\"pmem\": [{\"id\": \"p\", \"path_on_host\": \"/p.img\"}]}",
	 "pmem[0]: virtio-pmem devices are not supported by mpvm yet (Firecracker feature: pmem)"},
	{"{\"pmem\": [{\"id\": \"p\"}]}", "pmem[0].path_on_host: required field is missing"},
	{"{\"memory-hotplug\": {\"total_size_mib\": 1024}}", "memory-hotplug: memory hotplug is "
	 "not supported by mpvm yet (Firecracker feature: virtio-mem, /hotplug/memory)"},
	{"{\"drives\": [{\"drive_id\": \"a\", \"is_root_device\": true, \"socket\": \"/vhost.sock\"}]}",
	 "drives[0].socket: vhost-user block devices are not supported by mpvm yet (Firecracker "
	 "feature: drives[].socket)"},
	{"{\"network-interfaces\": [{\"iface_id\": \"e0\", \"host_dev_name\": \"tap0\", "
	 "\"mtu\": 9000}]}", "network-interfaces[0].mtu: advertising an MTU to the guest is not "
	 "supported by mpvm yet (Firecracker feature: VIRTIO_NET_F_MTU)"},
	{"{\"network-interfaces\": [{\"iface_id\": \"e0\", \"host_dev_name\": \"tap0\", "
	 "\"mtu\": 20}]}", "network-interfaces[0].mtu: expected an integer in 68..65535, got 20"},
	{"{\"logger\": {\"level\": \"Info\", \"module\": \"api_server\"}}",
	 "logger.module: filtering the log by module is not supported by mpvm yet (Firecracker "
	 "feature: logger.module)"},
	{"{\"serial\": {\"serial_out_path\": \"/tmp/s\", \"rate_limiter\": {\"size\": 1, "
	 "\"refill_time\": 1}}}", "serial.rate_limiter: rate limiting the serial console is not "
	 "supported by mpvm yet (Firecracker feature: serial rate_limiter)"},
	{"{\"serial\": {\"serial_out_path\": \"/tmp/s\", \"mode\": \"file\"}}",
	 "serial.serial_out_path: give either Firecracker's serial_out_path or mpvm's mode and path, "
	 "not both"},
	/* MMDS: Firecracker's rules on its configuration. */
	{"{\"mmds-config\": {\"network_interfaces\": [\"eth9\"]}}",
	 "mmds-config.network_interfaces: \"eth9\" is not a configured network interface"},
	{"{\"mmds-config\": {\"network_interfaces\": []}}",
	 "mmds-config.network_interfaces: the list of interfaces that may reach MMDS is empty"},
	{"{\"mmds-config\": {\"version\": \"V2\"}}",
	 "mmds-config.network_interfaces: required field is missing"},
	{"{\"mmds-config\": {\"network_interfaces\": [\"eth0\"], \"version\": \"V3\"}}",
	 "mmds-config.version: expected one of \"V1\", \"V2\", got \"V3\""},
	{"{\"mmds-config\": {\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"10.0.0.1\"}}",
	 "mmds-config.ipv4_address: expected a link-local address 169.254.1.0 to 169.254.254.255, "
	 "got \"10.0.0.1\""},
	{"{\"mmds-config\": {\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.0.9\"}}",
	 "mmds-config.ipv4_address: expected a link-local address 169.254.1.0 to 169.254.254.255, "
	 "got \"169.254.0.9\""},
	{"{\"mmds-config\": {\"network_interfaces\": [\"eth0\", 1]}}",
	 "mmds-config.network_interfaces[1]: expected an interface id, got 1"},
	{"{\"network-interfaces\": [], \"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}",
	 "mmds-config.network_interfaces: \"eth0\" is not a configured network interface"},
	{"{\"machine-config\": {\"mem_size_mib\": 256}}",
	 "machine-config.vcpu_count: required field is missing"},
	{"{\"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}}",
	 "machine-config.vcpu_count: must be 1 or even when smt is true, got 3"},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"smt\": true, \"smt\": false}}",
	 "machine-config.smt: key given twice"},
	{"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": true, "
	 "\"io_engine\": \"Fast\"}]}",
	 "drives[0].io_engine: expected one of \"Sync\", \"Async\", got \"Fast\""},
	{"{\"drives\": [{\"drive_id\": \"my disk\", \"path_on_host\": \"/a\", "
	 "\"is_root_device\": true}]}",
	 "drives[0].drive_id: expected 1..64 characters of A-Z a-z 0-9 _ -, got \"my disk\""},
	{"{\"drives\": [" ROOT_DRIVE ", " ROOT_DRIVE "]}", "drives[1].drive_id: \"a\" is given twice"},
	{"{\"drives\": [" ROOT_DRIVE ", {\"drive_id\": \"b\", \"path_on_host\": \"/b\", "
	 "\"is_root_device\": true}]}",
	 "drives[1].is_root_device: drive \"a\" is already the root device"},
	{"{\"drives\": [{}, {}, {}, {}, {}, {}, {}, {}, {}]}", "drives: at most 8 drives, got 9"},
	{"{\"drives\": {}}", "drives: expected an array, got an object"},
	{"{\"drives\": [{\"path_on_host\": \"/a\", \"is_root_device\": true}]}",
	 "drives[0].drive_id: required field is missing"},
	{"{\"network-interfaces\": [{\"iface_id\": \"e0\", \"host_dev_name\": \"tap0\", "
	 "\"guest_mac\": \"aa:bb:cc:dd:ee\"}]}", "network-interfaces[0].guest_mac: expected a MAC "
	 "address like \"06:00:ac:10:00:02\", got \"aa:bb:cc:dd:ee\""},
	{"{\"network-interfaces\": [{\"iface_id\": \"e0\", \"host_dev_name\": \"tap0\", "
	 "\"guest_mac\": \"aa:bb:cc:dd:ee:fg\"}]}", "network-interfaces[0].guest_mac: expected a "
	 "MAC address like \"06:00:ac:10:00:02\", got \"aa:bb:cc:dd:ee:fg\""},
	{"{\"network-interfaces\": [{\"iface_id\": \"e0\", \"host_dev_name\": "
	 "\"a-very-long-tap-name\"}]}", "network-interfaces[0].host_dev_name: expected a tap "
	 "device name of 1..15 characters, got \"a-very-long-tap-name\""},
	{"{\"boot-source\": {\"boot_args\": \"quiet\"}}",
	 "boot-source.kernel_image_path: required field is missing"},
	{"{\"boot-source\": {\"kernel_image_path\": \"\"}}",
	 "boot-source.kernel_image_path: expected a non-empty string, got \"\""},
	{"{\"logger\": []}", "logger: expected an object, got an array"},
	{"{\"logger\": {\"level\": \"loud\"}}", "logger.level: expected one of \"Off\", \"Error\", "
	 "\"Warning\", \"Info\", \"Debug\", \"Trace\", \"Warn\", got \"loud\""},
	{"{\"metrics\": {}}", "metrics.metrics_path: required field is missing"},
	{"{\"serial\": {\"mode\": \"file\"}}", "serial.path: required with mode \"file\""},
	{"{\"serial\": {\"mode\": \"stdio\", \"path\": \"/x\"}}",
	 "serial.path: only valid with mode \"file\" or \"socket\""},
	{"{\"debug\": {\"exit_port\": 1}}", "debug.exit_port: expected true or false, got 1"},
	{"{\"pmu\": {\"mode\": \"on\"}}", "pmu.mode: expected one of \"auto\", \"off\", "
	 "\"mediated\", \"legacy\", \"soft\", got \"on\""},
	{"{\"pmu\": {\"gp_counters\": 33}}", "pmu.gp_counters: expected an integer in 0..32, got 33"},
	{"{\"pmu\": {\"gp_width\": 0}}", "pmu.gp_width: expected an integer in 1..64, got 0"},
	{"{\"pmu\": {\"version\": 6}}", "pmu.version: expected an integer in 0..5, got 6"},
	{"{\"pmu\": {\"filter\": {\"events\": []}}}", "pmu.filter.action: required field is missing"},
	{"{\"pmu\": {\"filter\": {\"action\": \"allow\", \"events\": [{\"event_select\": \"0xc0\"}, "
	 "{\"event_select\": \"c0\"}]}}}", "pmu.filter.events[1].event_select: expected an integer "
	 "in 0..4095 or a hex string like \"0xc0\", got \"c0\""},
	{"{\"pmu\": {\"filter\": {\"action\": \"allow\", \"events\": [{\"event_select\": 4096}]}}}",
	 "pmu.filter.events[0].event_select: expected an integer in 0..4095 or a hex string like "
	 "\"0xc0\", got 4096"},
	{"{\"pmu\": {\"filter\": {\"action\": \"deny\", \"events\": [{\"event_select\": 1, "
	 "\"mask\": 255}]}}}",
	 "pmu.filter.events[0].mask: only valid with \"masked_events\": true"},
	{"{\"pmu\": {\"unavailable_events\": [\"instructions\", \"cache_misses\"]}}",
	 "pmu.unavailable_events[1]: expected one of \"core_cycles\", \"instructions\", "
	 "\"reference_cycles\", \"llc_references\", \"llc_misses\", \"branches\", "
	 "\"branch_misses\", got \"cache_misses\""},
	{"{\"pmu\": {\"unavailable_events\": 128}}", "pmu.unavailable_events: expected an integer "
	 "in 0..127 or a hex string like \"0xc0\", got 128"},
	{"{\"pmu\": {\"unavailable_events\": [1]}}", "pmu.unavailable_events[0]: expected one of "
	 "\"core_cycles\", \"instructions\", \"reference_cycles\", \"llc_references\", "
	 "\"llc_misses\", \"branches\", \"branch_misses\", got 1"},
	{"{\n  \"machine-config\": {\n    \"vcpu_count\": 2,\n    \"mem_size_mib\" 256\n  }\n}",
	 "invalid JSON at line 4, column 20 near '256'"},
	{"{} x", "invalid JSON at line 1, column 4 near 'x'"},
	{"", "invalid JSON at line 1, column 1 (at the end of the text)"},
	{"[1, 2]", "expected a JSON object, got an array"},
	/* 1e999 is inf to strtod, which cJSON would show as null. */
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1e999}}",
	 "machine-config.mem_size_mib: expected an integer in 1..1048576, got a number out of "
	 "range"},
	{"{\"machine-config\": {\"vcpu_count\": -1e999, \"mem_size_mib\": 1}}",
	 "machine-config.vcpu_count: expected an integer in 1..32, got a number out of range"},
	/* The text rule (base/utf8.h), on values, keys and array items. */
	{"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a\xff\"}}",
	 "boot-source.boot_args: not valid UTF-8 (byte 0xff at offset 1)"},
	{"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a\\u0000b\"}}",
	 "boot-source.boot_args: contains a NUL character (\\u0000 at offset 1)"},
	{"{\"drives\": [{\"drive_id\": \"\\u0000\", \"path_on_host\": \"/a\", "
	 "\"is_root_device\": true}]}",
	 "drives[0].drive_id: contains a NUL character (\\u0000 at offset 0)"},
	{"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\\u0000\\u0000\", "
	 "\"is_root_device\": true}]}",
	 "drives[0].path_on_host: contains a NUL character (\\u0000 at offset 2)"},
	{"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/\xed\xa0\x80\", "
	 "\"is_root_device\": true}]}",
	 "drives[0].path_on_host: not valid UTF-8 (byte 0xed at offset 1)"},
	{"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1, \"x\xc0\xafy\": 1}}",
	 "machine-config: key \"x\xef\xbf\xbd\xef\xbf\xbdy\": not valid UTF-8 (byte 0xc0 at "
	 "offset 1)"},
	{"{\"pmu\": {\"unavailable_events\": [\"instructions\", \"\xf4\x90\x80\x80\"]}}",
	 "pmu.unavailable_events[1]: not valid UTF-8 (byte 0xf4 at offset 0)"},
	/* An escaped backslash before "u0000" is text, not a NUL; valid UTF-8
	 * in a refused value is quoted back whole, cut between characters. */
	{"{\"logger\": {\"level\": \"\\\\u0000\"}}", "logger.level: expected one of \"Off\", "
	 "\"Error\", \"Warning\", \"Info\", \"Debug\", \"Trace\", \"Warn\", got \"\\\\u0000\""},
	{"{\"logger\": {\"level\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9\"}}",
	 "logger.level: expected one of \"Off\", \"Error\", \"Warning\", \"Info\", \"Debug\", "
	 "\"Trace\", \"Warn\", got \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xe2\x80\xa6\""},
	/* A syntax error after a \u0000 still points at the right column. */
	{"{\"a\": \"\\u0000\" x}", "invalid JSON at line 1, column 16 near 'x}'"},
};

START_TEST(bad_input_names_the_path)
{
	char *before;
	char *after;

	load_ok(&cfg, FULL);
	before = dump(&cfg);
	ck_assert_int_eq(vm_config_load_json(&cfg, bad[_i].json, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad[_i].err);
	after = dump(&cfg);
	ck_assert_str_eq(before, after); /* a failed load changes nothing */
	free(before);
	free(after);
}
END_TEST

/* {"pmu": {"filter": {"action": "allow", "events": [n x {"event_select": 192}]}}} */
static char *filter_json(int n)
{
	size_t len = 64 + (size_t)n * 24;
	char *s = malloc(len);
	size_t off = (size_t)snprintf(s, len, "{\"pmu\": {\"filter\": {\"action\": \"allow\", \"events\": [");

	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s{\"event_select\": 192}", i ? "," : "");
	snprintf(s + off, len - off, "]}}}");
	return s;
}

START_TEST(filter_event_limit_is_300)
{
	char *ok = filter_json(300), *over = filter_json(301);

	load_ok(&cfg, ok);
	ck_assert_uint_eq(cfg.pmu.filter.nevents, 300);
	ck_assert_int_eq(vm_config_load_json(&cfg, over, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pmu.filter.events: at most 300 events (KVM_PMU_EVENT_FILTER limit), "
			 "got 301");
	ck_assert_uint_eq(cfg.pmu.filter.nevents, 300);
	free(ok);
	free(over);
}
END_TEST

/* Events the guest must see as unavailable: names (any case) or a bitmask
 * of leaf 0xA EBX bits; written back as names. */
START_TEST(unavailable_events_by_name_or_mask)
{
	struct vm_config back;
	char *text;

	ck_assert_uint_eq(cfg.pmu.unavailable_events, 0);
	load_ok(&cfg, "{\"pmu\": {\"mode\": \"soft\", \"unavailable_events\": "
		      "[\"Core_Cycles\", \"llc_misses\", \"llc_misses\"]}}");
	ck_assert_uint_eq(cfg.pmu.unavailable_events, (1u << CFG_PMU_EV_CORE_CYCLES) |
							 (1u << CFG_PMU_EV_LLC_MISSES));
	text = dump(&cfg);
	ck_assert_ptr_nonnull(strstr(text, "\"unavailable_events\":\t[\"core_cycles\", \"llc_misses\"]"));
	vm_config_init(&back);
	load_ok(&back, text);
	ck_assert_uint_eq(back.pmu.unavailable_events, 0x11);
	vm_config_free(&back);
	free(text);

	load_ok(&cfg, "{\"pmu\": {\"unavailable_events\": \"0x24\"}}");
	ck_assert_uint_eq(cfg.pmu.unavailable_events, 0x24);
	load_ok(&cfg, "{\"pmu\": {\"unavailable_events\": 2}}");
	ck_assert_uint_eq(cfg.pmu.unavailable_events, 2);
	/* PUT semantics: a pmu section without the key resets it. */
	load_ok(&cfg, "{\"pmu\": {\"mode\": \"off\"}}");
	ck_assert_uint_eq(cfg.pmu.unavailable_events, 0);
	ck_assert_str_eq(cfg_pmu_arch_event_name(CFG_PMU_EV_BRANCH_MISSES), "branch_misses");
	ck_assert_ptr_null(cfg_pmu_arch_event_name(CFG_PMU_NUM_ARCH_EVENTS));
}
END_TEST

START_TEST(to_json_round_trips)
{
	struct vm_config back;
	char *first, *second;

	load_ok(&cfg, FULL);
	first = dump(&cfg);
	vm_config_init(&back);
	load_ok(&back, first);
	second = dump(&back);
	ck_assert_str_eq(first, second);
	/* Spot-check that the text carried the values, not just the shape. */
	ck_assert_str_eq(back.drives[1].partuuid, "0eaa91a0-01");
	ck_assert_uint_eq(back.drives[0].rate_limiter.bandwidth.one_time_burst, 4096);
	ck_assert_uint_eq(back.nets[0].guest_mac[2], 0xac);
	ck_assert_uint_eq(back.pmu.filter.events[1].unit_mask, 0x4f);
	ck_assert_int_eq(back.pmu.fixed_width, 40);
	ck_assert_str_eq(back.serial.path, "/tmp/console.log");
	ck_assert(!back.debug.boot_marker);
	vm_config_free(&back);
	free(first);
	free(second);
}
END_TEST

START_TEST(to_json_round_trips_defaults_and_masked_filter)
{
	struct vm_config back;
	char *first, *second;

	load_ok(&cfg, "{\"pmu\": {\"filter\": {\"action\": \"allow\", \"masked_events\": true, "
		"\"events\": [{\"event_select\": \"0x1c0\", \"unit_mask\": 1, \"mask\": \"0xff\", "
		"\"exclude\": true}]}}, \"logger\": {\"level\": \"OFF\"}}");
	first = dump(&cfg);
	ck_assert_ptr_null(strstr(first, "boot-source")); /* unset: left out, not null */
	ck_assert_ptr_null(strstr(first, "gp_counters")); /* -1: the host's */
	vm_config_init(&back);
	load_ok(&back, first);
	ck_assert(back.pmu.filter.masked_events && back.pmu.filter.events[0].masked);
	ck_assert_uint_eq(back.pmu.filter.events[0].event_select, 0x1c0);
	ck_assert_uint_eq(back.pmu.filter.events[0].mask, 0xff);
	ck_assert(back.pmu.filter.events[0].exclude);
	ck_assert_int_eq(back.logger.level, CFG_LOG_OFF);
	ck_assert_int_eq(back.pmu.gp_counters, -1);
	second = dump(&back);
	ck_assert_str_eq(first, second);
	vm_config_free(&back);
	free(first);
	free(second);
}
END_TEST

START_TEST(put_drive_replaces_by_id_or_appends)
{
	load_ok(&cfg, FULL);
	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"rootfs\", \"path_on_host\": "
					 "\"/new.ext4\", \"is_root_device\": true}", "rootfs",
					 err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.ndrives, 2);
	ck_assert_str_eq(cfg.drives[0].path_on_host, "/new.ext4");
	ck_assert_int_eq(cfg.drives[0].io_engine, CFG_IO_SYNC); /* PUT: omitted -> default */
	ck_assert(!cfg.drives[0].rate_limiter.bandwidth.set);

	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"data\", \"path_on_host\": "
					 "\"/data.img\", \"is_root_device\": false}", NULL, err,
					 sizeof(err)), 0);
	ck_assert_uint_eq(cfg.ndrives, 3);
	ck_assert_str_eq(cfg.drives[2].drive_id, "data");
}
END_TEST

START_TEST(put_drive_errors_leave_drives_unchanged)
{
	char *before;
	char *after;
	char body[160];

	load_ok(&cfg, FULL);
	before = dump(&cfg);
	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
					 "\"is_root_device\": false}", "b", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drive.drive_id: \"a\" does not match the id in the URL path \"b\"");
	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", "
					 "\"is_root_device\": true}", "b", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drive.is_root_device: drive \"rootfs\" is already the root device");
	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"b\", \"path_on_host\": 1}", "b",
					 err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drive.path_on_host: expected a string, got 1");
	after = dump(&cfg);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	for (int i = 2; i < CFG_MAX_DRIVES; i++) {
		snprintf(body, sizeof(body), "{\"drive_id\": \"d%d\", \"path_on_host\": \"/d\", "
			 "\"is_root_device\": false}", i);
		ck_assert_int_eq(cfg_parse_drive(&cfg, body, NULL, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(cfg_parse_drive(&cfg, "{\"drive_id\": \"one-too-many\", \"path_on_host\": "
					 "\"/d\", \"is_root_device\": false}", NULL, err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "drive: at most 8 drives");
	ck_assert_uint_eq(cfg.ndrives, CFG_MAX_DRIVES);
}
END_TEST

START_TEST(patch_drive_changes_only_path_and_limiter)
{
	load_ok(&cfg, FULL);
	ck_assert_int_eq(cfg_patch_drive(&cfg, "{\"drive_id\": \"rootfs\", \"path_on_host\": "
					 "\"/swapped.ext4\"}", "rootfs", err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.drives[0].path_on_host, "/swapped.ext4");
	ck_assert_int_eq(cfg.drives[0].io_engine, CFG_IO_ASYNC); /* kept */
	ck_assert(cfg.drives[0].rate_limiter.bandwidth.set);   /* kept: not in the body */
	ck_assert_int_eq(cfg_patch_drive(&cfg, "{\"drive_id\": \"nope\"}", "nope", err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "drive.drive_id: no drive \"nope\" to update");
	ck_assert_int_eq(cfg_patch_drive(&cfg, "{\"drive_id\": \"rootfs\", \"is_read_only\": true}",
					 "rootfs", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drive.is_read_only: unknown key (expected one of drive_id, "
			 "path_on_host, rate_limiter)");
}
END_TEST

START_TEST(put_net_replaces_and_checks_taps)
{
	load_ok(&cfg, FULL);
	ck_assert_int_eq(cfg_parse_net(&cfg, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}",
				       "eth0", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nnets, 1);
	ck_assert_str_eq(cfg.nets[0].host_dev_name, "tap9");
	ck_assert(!cfg.nets[0].has_mac);
	ck_assert_int_eq(cfg_parse_net(&cfg, "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap9\"}",
				       "eth1", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "network-interface.host_dev_name: \"tap9\" is already used by "
			 "interface \"eth0\"");
	ck_assert_int_eq(cfg_parse_net(&cfg, "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}",
				       "eth2", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "network-interface.iface_id: \"eth1\" does not match the id in the "
			 "URL path \"eth2\"");
	ck_assert_uint_eq(cfg.nnets, 1);
}
END_TEST

START_TEST(machine_put_resets_and_patch_keeps)
{
	load_ok(&cfg, FULL);
	ck_assert_int_eq(cfg_parse_machine(&cfg, "{\"mem_size_mib\": 512}", true, err,
					   sizeof(err)), 0);
	ck_assert_uint_eq(cfg.machine.mem_size_mib, 512);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 2);
	ck_assert(cfg.machine.smt && cfg.machine.track_dirty_pages);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_2M);

	/* PATCH checks the merged result: 3 vCPUs with the kept smt=true. */
	ck_assert_int_eq(cfg_parse_machine(&cfg, "{\"vcpu_count\": 3}", true, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "machine-config.vcpu_count: must be 1 or even when smt is true, got 3");
	ck_assert_uint_eq(cfg.machine.vcpu_count, 2);

	ck_assert_int_eq(cfg_parse_machine(&cfg, "{\"vcpu_count\": 3, \"mem_size_mib\": 64}", false,
					   err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.machine.vcpu_count, 3);
	ck_assert(!cfg.machine.smt && !cfg.machine.track_dirty_pages);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_NONE);

	ck_assert_int_eq(cfg_parse_machine(&cfg, "{\"vcpu_count\": 4}", false, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "machine-config.mem_size_mib: required field is missing");
	ck_assert_int_eq(cfg_parse_machine(&cfg, "{\"vcpu_count\": 4", false, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "machine-config: invalid JSON at line 1, column 17 (at the end of the "
			 "text)");
	ck_assert_uint_eq(cfg.machine.vcpu_count, 3);
}
END_TEST

START_TEST(other_sections_put)
{
	struct cfg_pmu_filter f = {0};

	ck_assert_int_eq(cfg_parse_boot_source(&cfg, "{\"kernel_image_path\": \"/k\", "
					       "\"initrd_path\": null}", err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.boot.kernel_image_path, "/k");
	ck_assert_ptr_null(cfg.boot.initrd_path); /* null = not given */
	ck_assert_int_eq(cfg_parse_logger(&cfg, "{\"level\": \"Warn\"}", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.logger.level, CFG_LOG_WARNING);
	ck_assert_int_eq(cfg_parse_entropy(&cfg, "{}", err, sizeof(err)), 0);
	ck_assert(cfg.entropy.enabled);
	ck_assert_int_eq(cfg_parse_metrics(&cfg, "{\"metrics_path\": \"/m\"}", err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.metrics.metrics_path, "/m");
	ck_assert_int_eq(cfg_parse_serial(&cfg, "{\"mode\": \"socket\", \"path\": \"/s.sock\"}", err,
					  sizeof(err)), 0);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_SOCKET);
	ck_assert_int_eq(cfg_parse_debug(&cfg, "{\"exit_port\": true}", err, sizeof(err)), 0);
	ck_assert(cfg.debug.exit_port && cfg.debug.boot_marker);
	ck_assert_int_eq(cfg_parse_pmu(&cfg, "{\"mode\": \"off\"}", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.pmu.mode, CFG_PMU_OFF);

	ck_assert_int_eq(cfg_parse_pmu_filter(&f, "{\"action\": \"allow\", \"events\": "
					      "[{\"event_select\": \"0x3c\"}]}", err, sizeof(err)), 0);
	ck_assert(f.set && f.action == CFG_FILTER_ALLOW && f.nevents == 1);
	ck_assert_int_eq(cfg_parse_pmu_filter(&f, "{\"action\": \"block\"}", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pmu.filter.action: expected one of \"allow\", \"deny\", got \"block\"");
	ck_assert_uint_eq(f.nevents, 1); /* unchanged */
}
END_TEST

START_TEST(load_file_prefixes_the_path)
{
	char path[] = "/tmp/mpvm-test-config-XXXXXX";
	const char text[] = "{\n  \"machine-config\": {\n    \"vcpu_count\": true\n  }\n}\n";
	char want[CFG_ERR_LEN];

	make_tmp_file(path, text, sizeof(text) - 1);
	ck_assert_int_eq(vm_config_load_file(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: machine-config.vcpu_count: expected an integer in 1..32, "
		 "got true", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	ck_assert_int_eq(vm_config_load_file(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* The text rule in a file: the file, then the field (or the offset of a
 * raw NUL, which would end the text before cJSON sees the rest). */
START_TEST(load_file_refuses_bad_text)
{
	static const struct {
		const char *text;
		size_t len;
		const char *err;
	} ex[] = {
		{"{\"boot-source\": {\"kernel_image_path\": \"/k\xff\"}}", 0,
		 "boot-source.kernel_image_path: not valid UTF-8 (byte 0xff at offset 2)"},
		{"{\"logger\": {\"log_path\": \"/l\\u0000x\"}}", 0,
		 "logger.log_path: contains a NUL character (\\u0000 at offset 2)"},
		{"{}\0{\"machine-config\": 1}", 24, "contains a NUL byte at offset 2, not a JSON text"},
	};
	char want[CFG_ERR_LEN];

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		char path[] = "/tmp/mpvm-test-config-XXXXXX";

		/* len 0: the text has no NUL of its own. */
		make_tmp_file(path, ex[i].text, ex[i].len ? ex[i].len : strlen(ex[i].text));
		ck_assert_int_eq(vm_config_load_file(&cfg, path, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: %s", path, ex[i].err);
		ck_assert_str_eq(err, want);
		unlink(path);
	}
}
END_TEST

START_TEST(validate_cross_checks)
{
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "boot-source.kernel_image_path: not set (give --kernel, a "
			 "\"boot-source\" section in the config file, or PUT /boot-source)");
	load_ok(&cfg, FULL);
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), 0);
	/* Callers may fill the struct directly; validate still catches it. */
	cfg.drives[1].is_root_device = true;
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drives[1].is_root_device: drive \"rootfs\" is already the root device");
	cfg.drives[1].is_root_device = false;
	free(cfg.drives[1].drive_id);
	cfg.drives[1].drive_id = strdup("rootfs");
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "drives[1].drive_id: \"rootfs\" is given twice");
	load_ok(&cfg, FULL);
	free(cfg.serial.path);
	cfg.serial.path = NULL;
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "serial.path: required with mode \"file\"");
}
END_TEST

/* A rule lives once (config/rules.c): the API, the CLI and the validator
 * refuse a shared tap in the same words, each naming its own place. */
START_TEST(one_rule_reads_the_same_from_every_source)
{
	struct run_opts o = {0};
	char *argv[] = {"run", "--net", "id=e1,tap=tap0", NULL};

	load_ok(&cfg, FULL);
	ck_assert_int_eq(cfg_parse_net(&cfg, "{\"iface_id\": \"e1\", \"host_dev_name\": \"tap0\"}",
				       NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "network-interface.host_dev_name: \"tap0\" is already used by "
			 "interface \"eth0\"");
	ck_assert_int_eq(cfg_parse_run_args(&cfg, &o, 3, argv, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--net: tap: \"tap0\" is already used by interface \"eth0\"");
	ck_assert_int_eq(cfg_parse_net(&cfg, "{\"iface_id\": \"e1\", \"host_dev_name\": \"tap1\"}",
				       NULL, err, sizeof(err)), 0);
	free(cfg.nets[1].host_dev_name);
	cfg.nets[1].host_dev_name = strdup("tap0"); /* filled directly */
	ck_assert_int_eq(vm_config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "network-interfaces[1].host_dev_name: \"tap0\" is already used by "
			 "interface \"eth0\"");
	run_opts_free(&o);
}
END_TEST

/* Loads tests/configs/<file>: it must validate (err NULL) or fail with
 * exactly `<path>: <err>`. */
static void check_example(const char *file, const char *want_err)
{
	const char *src = getenv("MPVM_SOURCE_DIR");
	char path[512], want[CFG_ERR_LEN + 600];
	char here[] = __FILE__; /* absolute under CMake: <src>/tests/unit/config/test_config.c */
	char *cut = strstr(here, "/tests/unit/");
	struct vm_config c;
	int rc;

	if (!src && cut) {
		*cut = 0;
		src = here;
	}
	ck_assert_msg(src != NULL, "set MPVM_SOURCE_DIR to the source tree");
	vm_config_init(&c);
	snprintf(path, sizeof(path), "%s/tests/configs/%s", src, file);
	rc = vm_config_load_file(&c, path, err, sizeof(err));
	if (!want_err) {
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_msg(vm_config_validate(&c, err, sizeof(err)) == 0, "%s: %s", file, err);
	} else {
		snprintf(want, sizeof(want), "%s: %s", path, want_err);
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(err, want);
	}
	vm_config_free(&c);
}

/* The example files in tests/configs/ stay valid (or stay bad, exactly so). */
START_TEST(example_files)
{
	check_example("good.json", NULL);
	check_example("bad-unknown-key.json", "machine-config.vcpus: unknown key (expected one of "
		      "vcpu_count, mem_size_mib, smt, track_dirty_pages, huge_pages, cpu_template)");
	check_example("bad-type.json", "drives[1].path_on_host: expected a string, got 3");
	check_example("bad-syntax.json",
		      "invalid JSON at line 3, column 39 near '\"mem_size_mib\": 256 }'");
	check_example("bad-pmu-range.json", "pmu.gp_counters: expected an integer in 0..32, got 33");
}
END_TEST

/* Firecracker's own example files (tests/configs/firecracker/, paths made
 * mpvm's): each validates unchanged, or fails as Firecracker would (a
 * missing vcpu_count) or naming the Firecracker feature mpvm lacks. */
static const struct {
	const char *file, *err;
} fc_examples[] = {
	{"firecracker/vm_config.json", NULL},
	{"firecracker/vm_config_network.json", NULL},
	{"firecracker/vm_config_with_mmdsv1.json", NULL},
	{"firecracker/vm_config_with_mmdsv2.json", NULL},
	{"firecracker/vm_config_smt_true.json", NULL},
	{"firecracker/getting_started.json", NULL},
	{"firecracker/vm_config_missing_vcpu_count.json",
	 "machine-config.vcpu_count: required field is missing"},
	{"firecracker/vm_config_cpu_template_C3.json",
	 "machine-config.cpu_template: static CPU templates are not supported by mpvm yet "
	 "(Firecracker feature: machine-config.cpu_template); use \"None\""},
	{"firecracker/balloon_vsock.json", NULL},
};

START_TEST(firecracker_example_files)
{
	check_example(fc_examples[_i].file, fc_examples[_i].err);
}
END_TEST

/* What the Firecracker files carry is kept: MMDS V2 on interface "1" at
 * its address, transparent huge pages, and it reads back the same. */
START_TEST(firecracker_mmds_and_huge_pages_are_kept)
{
	char *json;
	struct vm_config back;

	load_ok(&cfg, "{\"network-interfaces\": [{\"iface_id\": \"1\", \"host_dev_name\": \"tap0\"}], "
		      "\"mmds-config\": {\"network_interfaces\": [\"1\"], \"version\": \"V2\", "
		      "\"ipv4_address\": \"169.254.169.250\", \"imds_compat\": true}, "
		      "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 127, "
		      "\"huge_pages\": \"Transparent\"}}");
	ck_assert(cfg.mmds.set);
	ck_assert_int_eq(cfg.mmds.version, CFG_MMDS_V2);
	ck_assert_str_eq(cfg.mmds.ifaces[0], "1");
	ck_assert_uint_eq(cfg.mmds.ipv4[3], 250);
	ck_assert(cfg.mmds.imds_compat);
	ck_assert_int_eq(cfg.machine.huge_pages, CFG_HUGE_TRANSPARENT);
	json = dump(&cfg);
	ck_assert_ptr_nonnull(strstr(json, "\"169.254.169.250\""));
	vm_config_init(&back);
	load_ok(&back, json);
	free(json);
	json = dump(&back);
	char *again = dump(&cfg);
	ck_assert_str_eq(json, again);
	free(json);
	free(again);
	vm_config_free(&back);
	/* PUT /mmds/config: the same parser; a refusal changes nothing. */
	ck_assert_int_eq(cfg_parse_mmds_config(&cfg, "{\"network_interfaces\": [\"2\"]}", err,
					       sizeof(err)), -1);
	ck_assert_str_eq(err, "mmds-config.network_interfaces: \"2\" is not a configured network "
			      "interface");
	ck_assert_int_eq(cfg.mmds.version, CFG_MMDS_V2);
	ck_assert_int_eq(cfg_parse_mmds_config(&cfg, "{\"network_interfaces\": [\"1\"]}", err,
					       sizeof(err)), 0);
	ck_assert_int_eq(cfg.mmds.version, CFG_MMDS_V1);
	ck_assert_uint_eq(cfg.mmds.ipv4[3], 254);
}
END_TEST

/* The API's bodies for Firecracker's resources mpvm lacks: shape first,
 * then the feature; a body that asks for nothing is fine. */
START_TEST(firecracker_only_resources)
{
	ck_assert_int_eq(cfg_check_fc_only("cpu-config", "{}", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_check_fc_only("cpu-config", "{\"msr_modifiers\": [{\"addr\": \"0x10a\", "
					   "\"bitmap\": \"0b1\"}]}", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cpu-config: custom CPU templates"));
	ck_assert_int_eq(cfg_check_fc_only("pmem", "{\"path_on_host\": \"/p\"}", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pmem.id: required field is missing");
	ck_assert_int_eq(cfg_check_fc_only("pmem", "{\"id\": \"p\", \"path_on_host\": \"/p\"}", err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "pmem: virtio-pmem devices are not supported by mpvm yet "
			      "(Firecracker feature: pmem)");
	ck_assert_int_eq(cfg_check_fc_only("memory-hotplug", "{\"slot_size_mib\": 64}", err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "memory-hotplug.slot_size_mib: expected an integer in 128..1048576, "
			      "got 64");
	/* Firecracker's PUT /serial shape is mpvm's file mode. */
	ck_assert_int_eq(cfg_parse_serial(&cfg, "{\"serial_out_path\": \"/tmp/s.log\"}", err,
					  sizeof(err)), 0);
	ck_assert_int_eq(cfg.serial.kind, CFG_SERIAL_FILE);
	ck_assert_str_eq(cfg.serial.path, "/tmp/s.log");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_config_parses_into_every_field);
	tcase_add_loop_test(tc, bad_input_names_the_path, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, filter_event_limit_is_300);
	tcase_add_test(tc, unavailable_events_by_name_or_mask);
	tcase_add_test(tc, to_json_round_trips);
	tcase_add_test(tc, to_json_round_trips_defaults_and_masked_filter);
	tcase_add_test(tc, put_drive_replaces_by_id_or_appends);
	tcase_add_test(tc, put_drive_errors_leave_drives_unchanged);
	tcase_add_test(tc, patch_drive_changes_only_path_and_limiter);
	tcase_add_test(tc, put_net_replaces_and_checks_taps);
	tcase_add_test(tc, machine_put_resets_and_patch_keeps);
	tcase_add_test(tc, other_sections_put);
	tcase_add_test(tc, load_file_prefixes_the_path);
	tcase_add_test(tc, load_file_refuses_bad_text);
	tcase_add_test(tc, validate_cross_checks);
	tcase_add_test(tc, one_rule_reads_the_same_from_every_source);
	tcase_add_test(tc, example_files);
	tcase_add_loop_test(tc, firecracker_example_files, 0,
			    (int)(sizeof(fc_examples) / sizeof(fc_examples[0])));
	tcase_add_test(tc, firecracker_mmds_and_huge_pages_are_kept);
	tcase_add_test(tc, firecracker_only_resources);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
