# balloon: Linux's virtio_balloon driver against mpvm's device. The guest
# dirties most of its memory once (so the host has backed it), frees it,
# then waits on the console while the host inflates and deflates the
# balloon through the API; at each "report" line from the host it prints
# its MemTotal (the driver takes inflated pages out of it); "dirty N" dirties
# and frees N MiB again (free page reporting, test_linux_balloon_report.sh).
[ -d /sys/bus/virtio/drivers/virtio_balloon ] && ok "virtio_balloon driver loaded" ||
	fail "no virtio_balloon driver"
mib=$(arg dirty)
mib=${mib:-160}
echo "LTEST: info $(guest-tool dirty "$mib")"
echo "LTEST: ready"
while read -r line; do
	case $line in
	report*) echo "LTEST: info memfree-kib $(awk '/MemFree/ { print $2 }' /proc/meminfo) $line"
		echo "LTEST: info memtotal-kib $(awk '/MemTotal/ { print $2 }' /proc/meminfo) $line" ;;
	dirty*) echo "LTEST: info $(guest-tool dirty "${line#dirty }") dirtied" ;;
	stop*) break ;;
	esac
done
end poweroff
