# loop: counts and writes to the root drive until told to stop, so that a
# pause can be seen from outside (the ticks stop) and checked for loss (the
# file on disk ends at the last tick). Each tick: "LTEST: tick N" on the
# console and N in /root/counter (synced). A line "stop" on the console ends
# it: the file must hold the last tick, then the guest powers off.
mount_root || fail "mount root"
i=0
while :; do
	if read -t 0.2 line && [ "$line" = stop ]; then
		break
	fi
	i=$((i + 1))
	echo "$i" >/root/counter
	sync
	echo "LTEST: tick $i"
done
[ "$(cat /root/counter)" = "$i" ] && ok "the counter file holds the last tick ($i)" || fail "counter file $(cat /root/counter), last tick $i"
umount /root
end poweroff
