# perfstat: count cycles, instructions and branches of a fixed workload
# (scripts/pmu-hw-check.sh compares them with the host's). With a perf
# binary in the guest, `perf stat`; the initramfs has none (busybox only),
# so guest-tool perfstat, which makes the same perf_event_open() calls
# (PERF_TYPE_HARDWARE, user mode only). mpvm.iters=N sets the workload.
iters=$(arg iters)
iters=${iters:-10000000}
echo "LTEST: info pmu-source $([ -e /sys/bus/event_source/devices/cpu ] && echo cpu || echo none)"
if command -v perf >/dev/null 2>&1; then
	echo "LTEST: info perf-binary $(command -v perf)"
	perf stat -x, -e cycles:u,instructions:u,branches:u -- guest-tool perfstat "$iters" 2>&1 |
		sed 's/^/LTEST: info perf-stat /'
else
	echo "LTEST: info perf-binary none (busybox initramfs: counting with guest-tool perfstat, perf_event_open as perf stat does)"
fi
echo "LTEST: info $(guest-tool perfstat "$iters")"
end poweroff
