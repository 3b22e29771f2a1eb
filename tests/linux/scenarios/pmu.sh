# pmu: what PMU Linux finds. Prints the kernel's "Performance Events" line,
# the perf event sources (a hardware PMU shows up as "cpu"), and whether
# the perf_event_open of a hardware event works (it needs a PMU).
echo "LTEST: info perf $(dmesg | grep 'Performance Events' | sed 's/^\[[^]]*\] //' | head -n 1)"
echo "LTEST: info sources $(ls /sys/bus/event_source/devices | tr '\n' ' ')"
if [ -e /sys/bus/event_source/devices/cpu ]; then
	echo "LTEST: info pmu cpu $(cat /sys/bus/event_source/devices/cpu/type 2>/dev/null)"
else
	echo "LTEST: info pmu none"
fi
echo "LTEST: info cpuid-0xa $(guest-tool cpuid 0xa 2>/dev/null)"
if [ "$(arg hold)" = 1 ]; then
	echo "LTEST: holding"
	read -r _
fi
end poweroff
