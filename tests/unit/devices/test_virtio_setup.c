/* Building the virtio devices from a configuration: order (root drive
 * first), MMIO windows and IOAPIC pins, the ACPI and command-line
 * descriptions, metrics, lookups and the failure path. No KVM: the VM has a
 * bus and memory but fd -1, so only the KVM wiring is skipped. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check_main.h"
#include "core/vm.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/setup.h"
#include "test_util.h"

static struct vm vm;
static struct vm_config cfg;
static char err[512], img_a[] = "/tmp/mpvm-setup-a-XXXXXX", img_b[] = "/tmp/mpvm-setup-b-XXXXXX";

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.fd = -1;
	vm.bus = io_bus_new();
	ck_assert_int_eq(gm_create(&vm.mem, 16 << 20, false, err, sizeof(err)), 0);
	memset(&cfg, 0, sizeof(cfg));
	make_tmp_image(img_a, 1 << 20);
	make_tmp_image(img_b, 1 << 20);
	cfg.ndrives = 2;
	cfg.drives[0] = (struct cfg_drive){ .drive_id = "data", .path_on_host = img_a };
	cfg.drives[1] = (struct cfg_drive){ .drive_id = "rootfs", .path_on_host = img_b, .is_root_device = true,
					    .io_engine = CFG_IO_ASYNC };
	cfg.entropy.enabled = true;
}

static void teardown(void)
{
	io_bus_free(vm.bus);
	gm_destroy(&vm.mem);
	unlink(img_a);
	unlink(img_b);
}

START_TEST(root_drive_comes_first_and_every_device_gets_its_window_and_pin)
{
	setup();
	struct virtio_set *s = virtio_setup_all(&vm, &cfg, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_uint_eq(s->n, 3);
	ck_assert_str_eq(s->slot[0].id, "rootfs");
	ck_assert_str_eq(s->slot[1].id, "data");
	ck_assert_int_eq(s->slot[2].kind, VIRTIO_KIND_RNG);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(s->slot[i].base, 0xD0000000ull + 0x1000ull * i);
		/* Not the PIT (0/2), the i8042 (1), COM1 (4), the RTC (8) or ACPI (9). */
		ck_assert(s->slot[i].gsi != 0 && s->slot[i].gsi != 1 && s->slot[i].gsi != 2 &&
			  s->slot[i].gsi != 4 && s->slot[i].gsi != 8 && s->slot[i].gsi != 9);
		for (unsigned j = 0; j < i; j++)
			ck_assert_uint_ne(s->slot[i].gsi, s->slot[j].gsi);
	}
	/* The windows are on the bus: the magic value reads back. */
	uint8_t v[4];
	ck_assert(io_dispatch(vm.bus, IO_SPACE_MMIO, NULL, 0xD0001000, v, 4, false));
	ck_assert_int_eq(memcmp(v, "virt", 4), 0);
	ck_assert(io_dispatch(vm.bus, IO_SPACE_MMIO, NULL, 0xD0002008, v, 4, false));
	ck_assert_uint_eq(v[0], 4); /* entropy device */

	/* What the builder describes in the DSDT: one window per slot. */
	ck_assert_uint_eq(s->slot[1].base, 0xD0001000);
	ck_assert_uint_eq(VIRTIO_MMIO_WINDOW, 0x1000);

	char *cmd = virtio_cmdline(s, "console=ttyS0");
	char want[256];
	snprintf(want, sizeof(want), "console=ttyS0 root=/dev/vda rw virtio_mmio.device=4K@0xd0000000:%u "
		 "virtio_mmio.device=4K@0xd0001000:%u virtio_mmio.device=4K@0xd0002000:%u",
		 s->slot[0].gsi, s->slot[1].gsi, s->slot[2].gsi);
	ck_assert_str_eq(cmd, want);
	free(cmd);
	cmd = virtio_cmdline(s, "");
	ck_assert(!strncmp(cmd, "root=/dev/vda rw virtio_mmio.device=4K@0xd0000000:", 50));
	free(cmd);

	ck_assert_ptr_eq(virtio_find_drive(s, "data"), s->slot[1].dev);
	ck_assert_ptr_null(virtio_find_drive(s, "nope"));

	cJSON *root = cJSON_CreateObject();
	virtio_metrics_add(s, root);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "block_rootfs"), "read_bytes"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(root, "block_data"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "entropy"), "requests"));
	cJSON_Delete(root);
	virtio_free_all(s);
	teardown();
}
END_TEST

START_TEST(root_device_by_partuuid_and_read_only_as_firecracker_does)
{
	setup();
	cfg.drives[1].partuuid = "0eaa91a0-01";
	cfg.drives[1].is_read_only = true;
	struct virtio_set *s = virtio_setup_all(&vm, &cfg, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	char *cmd = virtio_cmdline(s, "quiet");
	ck_assert(!strncmp(cmd, "quiet root=PARTUUID=0eaa91a0-01 ro virtio_mmio.device=", 54));
	free(cmd);
	virtio_free_all(s);
	/* No root drive: no root= at all (a new VM, so a new bus). */
	io_bus_free(vm.bus);
	vm.bus = io_bus_new();
	cfg.drives[1].is_root_device = false;
	s = virtio_setup_all(&vm, &cfg, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	cmd = virtio_cmdline(s, "quiet");
	ck_assert_ptr_null(strstr(cmd, "root="));
	free(cmd);
	virtio_free_all(s);
	teardown();
}
END_TEST

START_TEST(no_devices_is_an_empty_set_and_an_unchanged_cmdline)
{
	setup();
	cfg.ndrives = 0;
	cfg.entropy.enabled = false;
	struct virtio_set *s = virtio_setup_all(&vm, &cfg, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	char *cmd = virtio_cmdline(s, "console=ttyS0 quiet");
	ck_assert_str_eq(cmd, "console=ttyS0 quiet");
	free(cmd);
	virtio_free_all(s);
	teardown();
}
END_TEST

START_TEST(pause_all_parks_every_device_and_resume_all_releases_them)
{
	setup();
	struct virtio_set *s = virtio_setup_all(&vm, &cfg, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(virtio_pause_all(s), 0);
	ck_assert_int_eq(virtio_pause_all(s), 0);
	for (unsigned i = 0; i < s->n; i++)
		ck_assert_msg(virtio_paused(s->slot[i].dev), "%s not paused", s->slot[i].dev->name);
	virtio_resume_all(s);
	for (unsigned i = 0; i < s->n; i++)
		ck_assert(!virtio_paused(s->slot[i].dev));
	/* A paused set can be torn down (the VM stopped while paused). */
	ck_assert_int_eq(virtio_pause_all(s), 0);
	virtio_free_all(s);
	ck_assert_int_eq(virtio_pause_all(NULL), 0);
	virtio_resume_all(NULL);
	teardown();
}
END_TEST

START_TEST(a_bad_drive_fails_the_whole_setup_with_its_name)
{
	setup();
	cfg.drives[0].path_on_host = "/nonexistent/data.img";
	ck_assert_ptr_null(virtio_setup_all(&vm, &cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "drive data"));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/data.img"));
	teardown();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("virtio_setup");
	TCase *tc = tcase_create("setup");
	tcase_add_test(tc, root_drive_comes_first_and_every_device_gets_its_window_and_pin);
	tcase_add_test(tc, root_device_by_partuuid_and_read_only_as_firecracker_does);
	tcase_add_test(tc, no_devices_is_an_empty_set_and_an_unchanged_cmdline);
	tcase_add_test(tc, pause_all_parks_every_device_and_resume_all_releases_them);
	tcase_add_test(tc, a_bad_drive_fails_the_whole_setup_with_its_name);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
