/* mpvm run: boot a microVM from a config file and/or flags, or start one
 * from a snapshot (--restore). */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "api/metrics.h"
#include "builder/vmm.h"
#include "cli/commands.h"
#include "core/log.h"

int cmd_run(int argc, char **argv)
{
	static struct vmm v; /* large; static keeps it off the stack */
	char err[CFG_ERR_LEN];
	int status;

	if (vmm_init(&v, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_ERROR;
	}
	struct run_opts opts = { 0 };
	int rc = cfg_parse_run_args(&v.cfg, &opts, argc, argv, err, sizeof(err));
	if (rc) {
		/* rc: 1 = --help printed, -1 = bad flag, -2 = bad config file. */
		vmm_free(&v);
		if (rc == 1)
			return 0;
		fprintf(stderr, "mpvm: %s\n", err);
		return rc == -1 ? MPVM_EXIT_USAGE : MPVM_EXIT_CONFIG;
	}
	v.no_seccomp = opts.no_seccomp;
	/* The API (and metrics) before the VM: the socket is ready as early as
	 * possible and is created before any vCPU thread exists (umask). */
	if (opts.api_sock) {
		v.api = api_server_new(&v, v.loop, opts.api_sock, NULL, opts.id, err, sizeof(err));
		if (!v.api) {
			fprintf(stderr, "mpvm: %s\n", err);
			status = MPVM_EXIT_ERROR;
			goto out;
		}
	}
	if (v.cfg.metrics.metrics_path &&
	    metrics_open(&v, v.cfg.metrics.metrics_path, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		status = MPVM_EXIT_CONFIG;
		goto out;
	}
	if (opts.restore) {
		/* From a snapshot: its config, memory and state (builder/vmm.h). */
		struct cfg_snapshot_req req = {
			.snapshot_path = opts.restore,
			.mem_file_path = opts.mem_file,
			.track_dirty_pages = opts.track_dirty_pages,
			.resume_vm = opts.resume,
			.pmu_fallback = opts.pmu_fallback,
		};
		rc = vmm_snapshot_load(&v, &req, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "mpvm: %s\n", err);
			status = rc;
			goto out;
		}
	} else if (!v.api || opts.config_file || v.cfg.boot.kernel_image_path) {
		/* Firecracker's flow: with an API and nothing to boot yet (no
		 * config file, no --kernel), wait for PUT /actions InstanceStart. */
		rc = vmm_build(&v, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "mpvm: %s\n", err);
			status = -rc;
			goto out;
		}
		if (vmm_start(&v, err, sizeof(err))) {
			fprintf(stderr, "mpvm: %s\n", err);
			status = MPVM_EXIT_ERROR;
			goto out;
		}
	}
	status = vmm_run_loop(&v);
out:
	metrics_close();
	api_server_free(v.api); /* before vmm_free: it is registered in the loop */
	v.api = NULL;
	run_opts_free(&opts);
	vmm_free(&v);
	return status;
}
