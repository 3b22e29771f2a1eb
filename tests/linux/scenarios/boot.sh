# boot: what a booted Linux sees of the machine mpvm gives it. Expects on
# the command line mpvm.cpus=N mpvm.mem_mib=M mpvm.marker=WORD (the test
# puts them there from the CLI or the config file) and mpvm.end=ACTION.
want_cpus=$(arg cpus)
online=$(cat /sys/devices/system/cpu/online)
n=$(grep -c ^processor /proc/cpuinfo)
[ "$n" = "$want_cpus" ] && ok "all $n CPUs online ($online)" || fail "$n CPUs online ($online), expected $want_cpus"
# The guest sees all its RAM: the usable ranges of the e820 map add up to
# it, less the legacy hole below 1 MiB (and ACPI's bytes in the BIOS area).
want=$(arg mem_mib)
usable=0
high=0
for r in $(dmesg | sed -n 's/.*BIOS-e820: \[mem 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)\] usable.*/\1:\2/p'); do
	a=$((0x${r%:*})) b=$((0x${r#*:}))
	usable=$((usable + b - a + 1))
	[ "$b" -ge $((1 << 32)) ] && high=1
done
usable_mib=$((usable >> 20))
[ "$usable_mib" -ge $((want - 1)) ] && [ "$usable_mib" -le "$want" ] && ok "e820 usable RAM $usable_mib MiB of $want MiB" ||
	fail "e820 usable RAM $usable_mib MiB, expected $want MiB less the first one"
if [ "$want" -gt 3072 ]; then
	[ "$high" = 1 ] && ok "RAM above 4 GiB (past the PCI hole)" || fail "no RAM above 4 GiB with $want MiB"
fi
mem=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
[ "$mem" -ge $((want / 2)) ] && ok "MemTotal $mem MiB" || fail "MemTotal $mem MiB of $want MiB"
echo "LTEST: info cmdline $(cat /proc/cmdline)"
grep -q "mpvm.marker=$(arg marker)" /proc/cmdline && ok "command line carries the marker $(arg marker)"
dmesg | grep -q "Hypervisor detected: KVM" && ok "KVM detected"
[ "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" = kvm-clock ] && ok "kvm-clock is the clocksource" || fail "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
[ -d /sys/firmware/acpi/tables ] && ok "ACPI tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')" || fail "no ACPI tables"
end "$(arg end)"
