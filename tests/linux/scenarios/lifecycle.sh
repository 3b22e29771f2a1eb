# lifecycle: a guest that waits to be ended from outside, or ends itself.
#   mpvm.end=poweroff|reboot|panic   end at once that way
#   mpvm.end=cad   wait for Ctrl-Alt-Del: the kernel sends SIGINT to init
#                  (kernel.ctrl-alt-del=0), which reboots cleanly
#   mpvm.end=wait  print "LTEST: ready" and wait to be stopped (SIGTERM)
case $(arg end) in
cad)
	trap 'ok "Ctrl-Alt-Del reached init"; end reboot' INT
	echo 0 >/proc/sys/kernel/ctrl-alt-del
	echo "LTEST: ready"
	while :; do sleep 1; done ;;
wait)
	echo "LTEST: ready"
	while :; do sleep 1; done ;;
*)
	ok "up, ending with $(arg end)"
	end "$(arg end)" ;;
esac
