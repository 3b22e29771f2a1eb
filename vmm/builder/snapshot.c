/* Snapshots of a running VM and VMs built from them: the file work around
 * vmm_build_restore() (builder/vmm.h; format in docs/snapshot.md).
 *
 * Create (VM paused): the memory file (Full: every page of RAM that is not
 * zero, the zero ones left as holes; Diff: the pages written since the last
 * snapshot) and the snapshot file (header, config, state), each written to
 * a temporary name; then both renamed, so that an existing snapshot file
 * always comes with its memory file.
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

/* Writes the pages of region i that `want` selects, coalescing runs. */
static int write_region(struct vm *vm, int i, struct snapfile_tmp *t, const uint64_t *dirty,
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
		if (nrun && snapfile_tmp_write(t, r->host + run * PAGE, nrun * PAGE, base + run * PAGE,
					       err, errlen))
			return -1;
		nrun = 0;
	}
	return 0;
}

/* The pages written since the last snapshot, per slot: KVM's dirty log
 * (the vCPUs' writes) with guest_mem's marks (the devices'), both read and
 * cleared. */
static int dirty_logs(struct vm *vm, uint64_t *bm[GM_MAX_REGIONS], char *err, size_t errlen)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		uint64_t words = (vm->mem.regions[i].size / PAGE + 63) / 64;
		bm[i] = calloc(words, 8);
		if (!bm[i])
			FAIL("out of memory for the dirty log");
		if (vm_dirty_log(vm, i, bm[i], err, errlen))
			return -1;
		gm_take_dirty(&vm->mem, i, bm[i]);
	}
	return 0;
}

/* Into t (open): the memory file, full size with holes where nothing is
 * written: zero pages (Full), pages not written since the last snapshot
 * (Diff). */
static int write_memory(struct vmm *v, struct snapfile_tmp *t, bool diff, char *err,
			size_t errlen)
{
	struct vm *vm = &v->vm;
	uint64_t *bm[GM_MAX_REGIONS] = { 0 };
	int rc = -1;
	/* Read (and clear) the dirty log for Full snapshots too: the next Diff
	 * is relative to this snapshot, as in Firecracker. */
	if (vm->params.track_dirty && dirty_logs(vm, bm, err, errlen))
		goto out;
	if (ftruncate(t->fd, (off_t)vm->mem.ram_size)) {
		err_set(err, errlen, "memory file %s: %s", t->path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < vm->mem.nregions; i++)
		if (write_region(vm, i, t, diff ? bm[i] : NULL, err, errlen))
			goto out;
	rc = 0;
out:
	for (int i = 0; i < GM_MAX_REGIONS; i++)
		free(bm[i]);
	return rc;
}

/* Both files complete under temporary names, then renamed, memory first:
 * a snapshot file never names a memory file it was not written with. */
static int write_files(struct vmm *v, const struct cfg_snapshot_req *req, const uint8_t *file,
		       size_t flen, char *err, size_t errlen)
{
	struct snapfile_tmp mem = { .fd = -1 }, snap = { .fd = -1 };
	int rc = snapfile_tmp_open(&mem, req->mem_file_path, err, errlen) ||
		 write_memory(v, &mem, req->diff, err, errlen) ||
		 snapfile_tmp_close(&mem, err, errlen) ||
		 snapfile_tmp_open(&snap, req->snapshot_path, err, errlen) ||
		 snapfile_tmp_write(&snap, file, flen, 0, err, errlen) ||
		 snapfile_tmp_close(&snap, err, errlen) ||
		 snapfile_tmp_rename(&mem, err, errlen) ||
		 snapfile_tmp_rename(&snap, err, errlen);
	snapfile_tmp_discard(&mem);
	snapfile_tmp_discard(&snap);
	return rc ? -1 : 0;
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
	if (write_files(v, req, file, flen, err, errlen))
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
	/* bench/snapshot times the process up to this line. */
	if (req->resume_vm)
		log_info("snapshot %s: running, %llu us after the load began", req->snapshot_path,
			 (unsigned long long)(mpvm_uptime_us() - t0));
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
