# softpmu: Linux's perf counting through mpvm's soft PMU. Loads
# /softpmu/mpvm_softpmu.ko (the perf driver that reads counters by RDMSR,
# which reaches mpvm, instead of RDPMC, which KVM answers itself), then
# counts unhalted core cycles of a fixed workload with perf_event_open().
iters=$(arg iters)
iters=${iters:-20000000}
if insmod /softpmu/mpvm_softpmu.ko 2>/tmp/insmod.err; then
	echo "LTEST: info softpmu loaded"
else
	echo "LTEST: info softpmu not-loaded $(tr '\n' ' ' </tmp/insmod.err)"
fi
echo "LTEST: info softpmu-dmesg $(dmesg | grep 'mpvm_softpmu:' | sed 's/^\[[^]]*\] //' | tail -n 1)"
echo "LTEST: info sources $(ls /sys/bus/event_source/devices | tr '\n' ' ')"
echo "LTEST: info $(guest-tool softperf "$iters")"
end poweroff
