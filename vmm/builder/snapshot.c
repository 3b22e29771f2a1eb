/* Snapshots of a running VM and VMs built from them: the file work around
 * vmm_build_restore() (builder/vmm.h; format in docs/snapshot.md).
 *
 * Create (VM paused): the memory file first (Full: every page of RAM that
 * is not zero, the zero ones left as holes; Diff: the pages KVM's dirty log
 * has seen written since the last snapshot), then the snapshot file
 * (header, config, state), each written to a temporary name and renamed, so
 * that an existing snapshot file always comes with its memory file.
 * Load: read and check the snapshot file (format, checksum, CPU vendor,
 * host capabilities), the memory file's size, then build and start Paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/snap.h"
#include "builder/snapshot_file.h"
#include "builder/vmm.h"
#include "core/log.h"
#include "core/vm_snap.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/virtio/setup.h"
#include "pmu/pmu.h"

#define PAGE 4096u

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	for (unsigned i = 0; i < PAGE / 8; i++)
		if (q[i])
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off, const char *path,
		      char *err, size_t errlen)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			FAIL("memory file %s: write: %s", path, strerror(errno));
		}
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes the pages of region i that `want` selects, coalescing runs. */
static int write_region(struct vm *vm, int i, int fd, const uint64_t *dirty, const char *path,
			char *err, size_t errlen)
{
	const struct gm_region *r = &vm->mem.regions[i];
	uint64_t base = gm_file_offset(&vm->mem, i), npages = r->size / PAGE;
	uint64_t run = 0, nrun = 0;
	for (uint64_t pg = 0; pg <= npages; pg++) {
		bool want = pg < npages &&
			    (dirty ? (dirty[pg / 64] >> (pg % 64)) & 1 : !page_is_zero(r->host + pg * PAGE));
		if (want) {
			if (!nrun)
				run = pg;
			nrun++;
			continue;
		}
		if (nrun && pwrite_all(fd, r->host + run * PAGE, nrun * PAGE, base + run * PAGE,
				       path, err, errlen))
			return -1;
		nrun = 0;
	}
	return 0;
}

/* KVM's dirty log of every slot (and so cleared). NULL entries: none. */
static int dirty_logs(struct vm *vm, uint64_t *bm[GM_MAX_REGIONS], char *err, size_t errlen)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		uint64_t words = (vm->mem.regions[i].size / PAGE + 63) / 64;
		bm[i] = calloc(words, 8);
		if (!bm[i])
			FAIL("out of memory for the dirty log");
		if (vm_dirty_log(vm, i, bm[i], err, errlen))
			return -1;
	}
	return 0;
}

static int write_memory(struct vmm *v, const char *path, bool diff, char *err, size_t errlen)
{
	struct vm *vm = &v->vm;
	uint64_t *bm[GM_MAX_REGIONS] = { 0 };
	int rc = -1;
	/* Read (and clear) the dirty log for Full snapshots too: the next Diff
	 * is relative to this snapshot, as in Firecracker. */
	if (vm->params.track_dirty && dirty_logs(vm, bm, err, errlen))
		goto out;
	char *tmp;
	int fd = snapfile_tmp_open(path, &tmp, err, errlen);
	if (fd < 0)
		goto out;
	/* Full size, holes where nothing is written: zero pages (Full), pages
	 * not written since the last snapshot (Diff). */
	bool ok = !ftruncate(fd, (off_t)vm->mem.ram_size) ||
		  !err_set(err, errlen, "memory file %s: %s", path, strerror(errno));
	for (int i = 0; ok && i < vm->mem.nregions; i++)
		ok = !write_region(vm, i, fd, diff ? bm[i] : NULL, path, err, errlen);
	rc = snapfile_tmp_commit(fd, tmp, path, ok, err, errlen);
out:
	for (int i = 0; i < GM_MAX_REGIONS; i++)
		free(bm[i]);
	return rc;
}

/* Diff snapshots take the pages KVM saw the vCPUs write; mpvm's virtio
 * devices write guest memory from the host, which KVM's dirty log never
 * sees, so a Diff of a VM with them would miss pages. */
static int check_diff(struct vmm *v, char *err, size_t errlen)
{
	if (v->virtio && v->virtio->n)
		FAIL("Diff snapshots of VMs with virtio devices are not supported (their writes to "
		     "guest memory are not in KVM's dirty log); this VM has %u: take a Full "
		     "snapshot", v->virtio->n);
	return 0;
}

/* Every device's sections after the VM's (docs/snapshot.md). */
static int save_devices(struct vmm *v, struct snap_w *w, char *err, size_t errlen)
{
	if (v->serial)
		serial_snap_save(v->serial, w);
	i8042_snap_save(v->i8042, w);
	/* The ACPI PM block has no guest-visible state: no section. */
	return virtio_snap_save(v->virtio, w, err, errlen);
}

int vmm_snapshot_create(struct vmm *v, const struct cfg_snapshot_req *req, char *err,
			size_t errlen)
{
	if (!v->started) {
		err_set(err, errlen, "snapshot/create: the microVM is not started");
		return -EINVAL;
	}
	if (vmm_state(v) != VMM_PAUSED) {
		err_set(err, errlen, "snapshot/create: the microVM must be paused first (PATCH /vm "
			"{\"state\": \"Paused\"})");
		return -EINVAL;
	}
	if (req->diff && !v->vm.params.track_dirty)
		FAIL("snapshot/create: a Diff snapshot needs dirty page tracking: boot with "
		     "machine-config.track_dirty_pages, or load with track_dirty_pages");
	if (req->diff && check_diff(v, err, errlen))
		return err_prefix(err, errlen, "snapshot/create: ");
	uint64_t t0 = mpvm_uptime_us();
	struct snap_w w;
	snap_w_init(&w);
	struct snapfile f = { .mem_bytes = v->vm.mem.ram_size, .flags = req->diff ? SNAPFILE_F_DIFF : 0 };
	snapfile_host_vendor(f.vendor);
	char *config = NULL;
	uint8_t *file = NULL;
	size_t flen = 0;
	int rc = -1;
	if (vm_snap_save(&v->vm, &w, &f.caps, err, errlen) || save_devices(v, &w, err, errlen) ||
	    pmu_snap_save(v->pmu, &w, err, errlen))
		goto out;
	config = vm_config_to_json(&v->cfg);
	if (w.oom || !config) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	f.config = config;
	f.config_len = strlen(config);
	f.state = w.buf;
	f.state_len = w.len;
	file = snapfile_encode(&f, &flen);
	if (!file) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	if (write_memory(v, req->mem_file_path, req->diff, err, errlen) ||
	    snapfile_write_atomic(req->snapshot_path, file, flen, err, errlen))
		goto out;
	log_info("snapshot (%s) written: %s (%zu bytes), memory %s, in %llu ms",
		 req->diff ? "Diff" : "Full", req->snapshot_path, flen, req->mem_file_path,
		 (unsigned long long)((mpvm_uptime_us() - t0) / 1000));
	rc = 0;
out:
	if (rc)
		err_prefix(err, errlen, "snapshot/create: ");
	free(file);
	free(config);
	snap_w_free(&w);
	return rc;
}

/* The snapshot's config replaces v->cfg, except what the user set for this
 * process (logger, metrics: allowed before a load, as in Firecracker). */
static int take_config(struct vmm *v, const struct snapfile *f, char *err, size_t errlen)
{
	char *json = malloc(f->config_len + 1);
	if (!json)
		FAIL("out of memory");
	memcpy(json, f->config, f->config_len);
	json[f->config_len] = 0;
	struct vm_config c;
	vm_config_init(&c);
	int rc = vm_config_load_json(&c, json, err, errlen);
	free(json);
	if (rc) {
		vm_config_free(&c);
		return err_prefix(err, errlen, "the stored config: ");
	}
	if (c.machine.mem_size_mib << 20 != f->mem_bytes) {
		vm_config_free(&c);
		FAIL("corrupt: the header says %llu bytes of memory, the stored config %llu MiB",
		     (unsigned long long)f->mem_bytes, (unsigned long long)c.machine.mem_size_mib);
	}
	struct cfg_logger lg = c.logger;
	struct cfg_metrics mt = c.metrics;
	c.logger = v->cfg.logger;
	c.metrics = v->cfg.metrics;
	v->cfg.logger = lg;
	v->cfg.metrics = mt;
	vm_config_free(&v->cfg);
	v->cfg = c;
	return 0;
}

int vmm_snapshot_load(struct vmm *v, const struct cfg_snapshot_req *req, char *err,
		      size_t errlen)
{
	uint64_t t0 = mpvm_uptime_us();
	size_t len = 0;
	int status = MPVM_EXIT_CONFIG, mem_fd = -1;
	/* A refused load leaves the config as it was (the API's rule). */
	struct vm_config saved;
	if (vm_config_copy(&saved, &v->cfg))
		FAIL("out of memory");
	struct snapfile f;
	char vendor[13];
	uint8_t *buf = snapfile_read(req->snapshot_path, &len, err, errlen);
	if (!buf)
		goto fail;
	snapfile_host_vendor(vendor);
	/* The vendor now; the capabilities once KVM is open (vmm_build_restore). */
	if (snapfile_parse(buf, len, &f, err, errlen) ||
	    snapfile_check_host(&f, vendor, err, errlen) ||
	    take_config(v, &f, err, errlen))
		goto fail;
	mem_fd = open(req->mem_file_path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0) {
		err_set(err, errlen, "memory file %s: %s", req->mem_file_path, strerror(errno));
		goto fail;
	}
	if (gm_check_file(mem_fd, f.mem_bytes, req->mem_file_path, err, errlen))
		goto fail;
	struct vmm_restore_in rs = {
		.mem_fd = mem_fd,
		.mem_path = req->mem_file_path,
		.track_dirty = req->track_dirty_pages,
		.state = f.state,
		.state_len = f.state_len,
		.caps = f.caps,
		.pmu_fallback = req->pmu_fallback,
	};
	int rc = vmm_build_restore(v, &rs, err, errlen);
	if (rc) {
		status = -rc;
		goto fail;
	}
	close(mem_fd); /* the mapping keeps the file */
	mem_fd = -1;
	free(buf);
	buf = NULL;
	if (vmm_start(v, err, errlen)) {
		status = MPVM_EXIT_ERROR;
		goto fail;
	}
	vm_config_free(&saved);
	log_info("snapshot %s restored in %llu ms", req->snapshot_path,
		 (unsigned long long)((mpvm_uptime_us() - t0) / 1000));
	if (req->resume_vm && vmm_resume(v)) {
		err_set(err, errlen, "snapshot/load: restored, but resuming failed; the microVM "
			"stays paused");
		return MPVM_EXIT_ERROR;
	}
	return 0;
fail:
	vm_config_free(&v->cfg);
	v->cfg = saved;
	if (mem_fd >= 0)
		close(mem_fd);
	free(buf);
	err_prefix(err, errlen, "snapshot/load %s: ", req->snapshot_path);
	return status;
}
