# bench: nothing but a clean power-off as soon as /init has run (bench/boot
# times process start -> "mpvm-init: up" -> exit, for mpvm and QEMU).
end poweroff
