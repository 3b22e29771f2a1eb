/* libFuzzer: the snapshot loader (vmm/builder/snapshot_file.c) and the
 * restore of the vCPU and VM state it carries (vmm/core/vm_snap.c), on a
 * stand-in of the kernel that accepts every ioctl (no /dev/kvm).
 * Input: byte 0 bit 0 set: the file's CRC32 is made right first (so the
 * fuzzer reaches past the checksum); the rest is the snapshot file.
 *
 * Oracles: a refusal says why in valid UTF-8; an accepted file's config and
 * state lie inside the input, back to back after the 64-byte header and
 * before the checksum; restoring its state (on as many vCPUs) returns 0 or -1 with a
 * UTF-8 message, and never hands KVM more MSRs than the section held.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/snap.h"
#include "base/utf8.h"
#include "builder/snapshot_file.h"
#include "core/vm.h"
#include "core/vm_snap.h"
#include "fuzz_check.h"

static int fake_sys(void *ctx, int fd, unsigned long req, void *arg)
{
	return req == KVM_CHECK_EXTENSION ? 1 : 0;
}

static int fake_vm(void *ctx, struct vm *vm, unsigned long req, void *arg)
{
	return req == KVM_CHECK_EXTENSION ? 4096 : 0;
}

static int fake_vcpu(void *ctx, struct vcpu *v, unsigned long req, void *arg)
{
	if (req == KVM_SET_MSRS) {
		const struct kvm_msrs *m = arg;
		CHECK(m->nmsrs <= 1024);
		return (int)m->nmsrs;
	}
	return req == KVM_GET_TSC_KHZ ? 2000000 : 0;
}

static const struct kvm_ops fake_ops = { .sys = fake_sys, .vm = fake_vm, .vcpu = fake_vcpu };

static void check_msg(const char *err)
{
	CHECK(err[0]);
	CHECK(!utf8_check(err, strlen(err), NULL, 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool fix_crc = data[0] & 1;
	size_t len = size - 1;
	uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees a read past it */
	memcpy(buf, data + 1, len);
	if (fix_crc && len >= 4) {
		uint32_t c = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
		memcpy(buf + len - 4, &c, 4);
	}
	char err[512] = "";
	struct snapfile f;
	if (snapfile_parse(buf, len, &f, err, sizeof(err))) {
		check_msg(err);
		free(buf);
		return 0;
	}
	CHECK(f.config == (const char *)buf + SNAPFILE_HEADER_LEN);
	CHECK((const uint8_t *)f.state == buf + SNAPFILE_HEADER_LEN + f.config_len);
	CHECK(SNAPFILE_HEADER_LEN + f.config_len + f.state_len + 4 == len);
	CHECK(strlen(f.vendor) <= 12);
	char host[13];
	snapfile_host_vendor(host);
	if (snapfile_check_host(&f, f.vendor, err, sizeof(err)))
		check_msg(err);

	/* As many vCPUs as the state has sections for (up to 4), so that a
	 * real snapshot's state reaches every ioctl. */
	unsigned n = snap_section_count(f.state, f.state_len, "VCPU");
	struct vm vm = { .kvm = &fake_ops, .nvcpus = n < 1 ? 1 : n > 4 ? 4 : n };
	struct vcpu vcpus[4];
	for (int i = 0; i < 4; i++)
		vcpus[i] = (struct vcpu){ .vm = &vm, .id = i };
	vm.vcpus = vcpus;
	err[0] = 0;
	if (vm_snap_restore(&vm, f.state, f.state_len, err, sizeof(err)))
		check_msg(err);
	free(buf);
	return 0;
}
