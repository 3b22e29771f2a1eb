# loop: counts and writes to the root drive until told to stop, so that a
# pause can be seen from outside (the ticks stop) and checked for loss (the
# file on disk ends at the last tick). Each tick: "LTEST: tick N" on the
# console and N in /root/counter (synced). A line "stop" on the console ends
# it: the file must hold the last tick, then the guest powers off.
mount_root || fail "mount root"
# The console is read by a blocking reader in the background, not by a
# `read -t` in the loop: busybox's timed read drops what it had read when the
# time runs out mid-line, and in the lab the guest once missed "stop" (it
# echoed it and counted on).
# (A background job's stdin would be /dev/null: hand it the console.)
rm -f /stop
exec 3<&0
(while read -r line; do [ "$line" = stop ] && break; done; : >/stop) <&3 &
i=0
while [ ! -e /stop ]; do
	sleep 0.2
	i=$((i + 1))
	echo "$i" >/root/counter
	sync
	echo "LTEST: tick $i"
done
[ "$(cat /root/counter)" = "$i" ] && ok "the counter file holds the last tick ($i)" || fail "counter file $(cat /root/counter), last tick $i"
umount /root
end poweroff
