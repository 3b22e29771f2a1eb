/* `mpvm pmu probe`: the host probe as a table for people and JSON for
 * machines (the same JSON as GET /pmu/host). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pmu/pmu.h"

static const enum pmu_mode report_order[] = { PMU_MODE_MEDIATED, PMU_MODE_LEGACY, PMU_MODE_SOFT,
					      PMU_MODE_OFF };

static void add_tristate(cJSON *o, const char *k, int v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddBoolToObject(o, k, v);
}

static void add_hex(cJSON *o, const char *k, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	cJSON_AddStringToObject(o, k, b);
}

static cJSON *arch_json(const struct pmu_arch *a, enum pmu_vendor v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "version", a->version);
	cJSON_AddNumberToObject(o, "gp_counters", a->gp);
	cJSON_AddNumberToObject(o, "gp_width", a->gp_width);
	cJSON_AddNumberToObject(o, "fixed_counters", a->fixed);
	cJSON_AddNumberToObject(o, "fixed_width", a->fixed_width);
	cJSON_AddBoolToObject(o, "pdcm", a->pdcm);
	if (v == PMU_VENDOR_AMD) {
		cJSON_AddBoolToObject(o, "perfctr_core", a->amd_perfctr_core);
		cJSON_AddBoolToObject(o, "perfmon_v2", a->amd_perfmon_v2);
	} else {
		add_hex(o, "events_unavailable", a->unavail);
		cJSON_AddNumberToObject(o, "events_described", a->ebx_len);
	}
	return o;
}

static cJSON *verdict_json(const struct pmu_verdict *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "available", v->available);
	cJSON *rs = cJSON_AddArrayToObject(o, "reasons");
	for (int i = 0; i < v->nreasons; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "why", v->r[i].why);
		cJSON_AddStringToObject(r, "fix", v->r[i].fix);
		cJSON_AddItemToArray(rs, r);
	}
	if (v->note[0])
		cJSON_AddStringToObject(o, "note", v->note);
	return o;
}

char *pmu_host_json(const struct pmu_host *h)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "root", h->root);
	cJSON *cpu = cJSON_AddObjectToObject(o, "cpu");
	cJSON_AddStringToObject(cpu, "vendor", pmu_vendor_name(h->vendor));
	cJSON_AddStringToObject(cpu, "vendor_id", h->vendor_id);
	cJSON_AddBoolToObject(cpu, "hybrid", h->hybrid);
	cJSON_AddBoolToObject(cpu, "hypervisor", h->host_is_vm);
	cJSON_AddItemToObject(cpu, "pmu", arch_json(&h->cpu, h->vendor));

	cJSON *k = cJSON_AddObjectToObject(o, "kvm");
	const struct pmu_kvm_info *ki = &h->kvm_info;
	cJSON_AddBoolToObject(k, "present", ki->present);
	if (!ki->present)
		cJSON_AddStringToObject(k, "error", ki->error);
	cJSON_AddStringToObject(k, "backend", h->kvm_backend);
	add_tristate(k, "enable_pmu", h->enable_pmu);
	add_tristate(k, "enable_vmware_backdoor", h->enable_vmware_backdoor);
	cJSON_AddStringToObject(k, "mediated_param", h->mediated_param);
	add_tristate(k, "enable_mediated_pmu", h->enable_mediated_pmu);
	cJSON *caps = cJSON_AddObjectToObject(k, "caps");
	cJSON_AddNumberToObject(caps, "PMU_CAPABILITY", ki->cap_pmu_capability);
	cJSON_AddNumberToObject(caps, "PMU_EVENT_FILTER", ki->cap_pmu_event_filter);
	cJSON_AddNumberToObject(caps, "PMU_EVENT_MASKED_EVENTS", ki->cap_masked_events);
	cJSON_AddNumberToObject(caps, "X86_USER_SPACE_MSR", ki->cap_user_space_msr);
	cJSON_AddNumberToObject(caps, "X86_MSR_FILTER", ki->cap_msr_filter);
	if (ki->present)
		cJSON_AddItemToObject(k, "supported_pmu", arch_json(&h->kvm, h->vendor));
	if (ki->perf_caps_known)
		add_hex(k, "perf_capabilities", ki->perf_caps);

	if (h->nmi_watchdog < 0)
		cJSON_AddNullToObject(o, "nmi_watchdog");
	else
		cJSON_AddNumberToObject(o, "nmi_watchdog", h->nmi_watchdog);
	if (h->perf_event_paranoid == -100)
		cJSON_AddNullToObject(o, "perf_event_paranoid");
	else
		cJSON_AddNumberToObject(o, "perf_event_paranoid", h->perf_event_paranoid);

	cJSON *modes = cJSON_AddObjectToObject(o, "modes");
	for (size_t i = 0; i < sizeof(report_order) / sizeof(report_order[0]); i++)
		cJSON_AddItemToObject(modes, pmu_mode_name(report_order[i]),
				      verdict_json(&h->verdict[report_order[i]]));
	char *s = cJSON_Print(o);
	cJSON_Delete(o);
	return s;
}

static const char *yes_no(int v)
{
	return v < 0 ? "unknown" : v ? "Y" : "N";
}

static void print_arch(FILE *f, const char *label, const struct pmu_arch *a, enum pmu_vendor v)
{
	if (v == PMU_VENDOR_AMD && !a->gp)
		fprintf(f, "  %-28s none\n", label);
	else if (v == PMU_VENDOR_AMD)
		fprintf(f, "  %-28s %d counters x %d bits%s, PerfCtrExtCore %s, PerfMonV2 %s\n", label,
			a->gp, a->gp_width, a->amd_perfctr_core || a->amd_perfmon_v2 ? "" : " (K7, no CPUID bit)",
			a->amd_perfctr_core ? "yes" : "no", a->amd_perfmon_v2 ? "yes" : "no");
	else if (!a->version)
		fprintf(f, "  %-28s none (leaf 0xA is zero)\n", label);
	else
		fprintf(f, "  %-28s v%d, %d GP x %d bits, %d fixed x %d bits, PDCM %s\n", label,
			a->version, a->gp, a->gp_width, a->fixed, a->fixed_width, a->pdcm ? "yes" : "no");
}

static void print_table(FILE *f, const struct pmu_host *h)
{
	const struct pmu_kvm_info *k = &h->kvm_info;
	fprintf(f, "Host\n");
	fprintf(f, "  %-28s %s (%s)%s%s\n", "CPU vendor", h->vendor_id, pmu_vendor_name(h->vendor),
		h->hybrid ? ", hybrid" : "",
		h->host_is_vm ? ", itself a guest (its PMU is what the outer hypervisor gives)" : "");
	print_arch(f, "host PMU (CPUID)", &h->cpu, h->vendor);
	fprintf(f, "  %-28s %s\n", "/dev/kvm", k->present ? "usable" : k->error);
	if (k->present)
		print_arch(f, "PMU KVM supports", &h->kvm, h->vendor);
	fprintf(f, "  %-28s %s\n", "KVM backend", h->kvm_backend[0] ? h->kvm_backend : "unknown");
	fprintf(f, "  %-28s %s\n", "kvm.enable_pmu", yes_no(h->enable_pmu));
	fprintf(f, "  %-28s %s\n", "kvm.enable_vmware_backdoor", yes_no(h->enable_vmware_backdoor));
	fprintf(f, "  %-28s %s\n", h->mediated_param[0] ? h->mediated_param : "enable_mediated_pmu",
		h->enable_mediated_pmu < 0 ? "absent" : yes_no(h->enable_mediated_pmu));
	if (h->nmi_watchdog < 0)
		fprintf(f, "  %-28s unknown\n", "nmi_watchdog");
	else
		fprintf(f, "  %-28s %d\n", "nmi_watchdog", h->nmi_watchdog);
	if (h->perf_event_paranoid == -100)
		fprintf(f, "  %-28s unknown\n", "perf_event_paranoid");
	else
		fprintf(f, "  %-28s %d\n", "perf_event_paranoid", h->perf_event_paranoid);
	fprintf(f, "  %-28s PMU_CAPABILITY=%d PMU_EVENT_FILTER=%d MASKED_EVENTS=%d\n", "KVM caps",
		k->cap_pmu_capability, k->cap_pmu_event_filter, k->cap_masked_events);
	fprintf(f, "  %-28s X86_USER_SPACE_MSR=%d X86_MSR_FILTER=%d\n", "", k->cap_user_space_msr,
		k->cap_msr_filter);
	if (k->perf_caps_known)
		fprintf(f, "  %-28s 0x%llx (full-width writes %s)\n", "KVM PERF_CAPABILITIES",
			(unsigned long long)k->perf_caps, k->perf_caps & (1u << 13) ? "yes" : "no");

	fprintf(f, "\nGuest PMU modes\n");
	for (size_t i = 0; i < sizeof(report_order) / sizeof(report_order[0]); i++) {
		const struct pmu_verdict *v = &h->verdict[report_order[i]];
		fprintf(f, "  %-9s %s\n", pmu_mode_name(report_order[i]), v->available ? "yes" : "no");
		for (int r = 0; r < v->nreasons; r++) {
			fprintf(f, "            because: %s\n", v->r[r].why);
			fprintf(f, "            fix:     %s\n", v->r[r].fix);
		}
		if (v->note[0])
			fprintf(f, "            note:    %s\n", v->note);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mpvm pmu probe [--json] [--root DIR] [--kvm PATH]\n"
		   "  --json      machine-readable output (same as GET /pmu/host)\n"
		   "  --root DIR  read sysfs/procfs under DIR instead of /\n"
		   "  --kvm PATH  KVM device (default /dev/kvm)\n");
}

int pmu_probe_main(int argc, char **argv)
{
	struct pmu_probe_src src = { 0 };
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if ((!strcmp(argv[i], "--root") || !strcmp(argv[i], "--kvm")) && i + 1 < argc) {
			if (argv[i][2] == 'r')
				src.root = argv[++i];
			else
				src.kvm_path = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "mpvm pmu probe: unknown or incomplete option \"%s\"\n", argv[i]);
			usage(stderr);
			return 64; /* MPVM_EXIT_USAGE */
		}
	}
	/* A mistyped root would read as a host with every parameter unknown. */
	struct stat st;
	errno = 0;
	if (src.root && (stat(src.root, &st) || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "mpvm pmu probe: --root %s: %s\n", src.root,
			errno ? strerror(errno) : "not a directory");
		return 64;
	}
	struct pmu_host *h = malloc(sizeof(*h));
	if (!h) {
		fprintf(stderr, "mpvm pmu probe: out of memory\n");
		return 70;
	}
	pmu_probe(h, &src);
	if (json) {
		char *s = pmu_host_json(h);
		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		print_table(stdout, h);
	}
	free(h);
	return 0;
}
