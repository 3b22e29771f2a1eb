#!/usr/bin/env bash
# Booting the freestanding test guests as a user would: output, exit status,
# SMP bring-up, reset, triple fault, boot marker, serial input.
. "$(dirname "$0")/lib.sh"

run hello 60 -- run --kernel "$GUESTS/hello.elf" --exit-port --cmdline "greeting=hi"
expect_status hello 1   # isa-debug-exit value 0 -> (0 << 1) | 1
expect_out hello "hello from mpvm test guest"
expect_out hello "cmdline: greeting=hi"

run hello-exit-code 60 -- run --kernel "$GUESTS/hello.elf" --exit-port --cmdline "exit=21"
expect_status hello-exit-code 43   # (21 << 1) | 1

# Without the test-exit port a write to 0xf4 goes nowhere: the guest falls
# through to a reset, which is status 2.
run hello-no-exit-port 60 -- run --kernel "$GUESTS/hello.elf"
expect_out hello-no-exit-port "hello from mpvm test guest"
expect_status hello-no-exit-port 2

# The same guest with only a multiboot header boots through multiboot.
run multiboot 60 -- run --kernel "$GUESTS/hello_mb.elf" --exit-port --cmdline "via=mb"
expect_status multiboot 1
expect_out multiboot "boot: multiboot"
expect_out multiboot "cmdline: via=mb"
run pvh 60 -- run --kernel "$GUESTS/hello.elf" --exit-port
expect_out pvh "boot: pvh"

# ACPI power-off (what Linux's poweroff does on hardware-reduced ACPI).
run poweroff 60 -- run --kernel "$GUESTS/hello.elf" --exit-port --cmdline "poweroff"
expect_status poweroff 0
expect_out poweroff "hello: powering off"

run boot-marker 60 -- run --kernel "$GUESTS/hello.elf" --exit-port --log-level Info
expect_status boot-marker 1
expect_err boot-marker "Guest-boot-time = +[0-9]+ us"

for n in 1 4; do
	run "smp-$n" 120 -- run --kernel "$GUESTS/smp.elf" --exit-port --cpus "$n"
	expect_status "smp-$n" 1
	expect_out "smp-$n" "smp: $n/$n cpus online"
done

T_STDIN="$T_TMP/line"
printf 'ping\n' >"$T_STDIN"
run reset 60 -- run --kernel "$GUESTS/reset.elf" --exit-port
unset T_STDIN
expect_status reset 2
expect_out reset "got: ping"

run crash 60 -- run --kernel "$GUESTS/crash.elf" --exit-port
expect_status crash 4
expect_err crash "triple fault"

# The same settings from a config file, with a flag overriding the file.
cat >"$T_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/hello.elf", "boot_args": "exit=5" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 64 },
  "debug": { "exit_port": true }
}
JSON
run config-file 60 -- run --config-file "$T_TMP/vm.json"
expect_status config-file 11
run config-file-override 60 -- run --config-file "$T_TMP/vm.json" --cmdline "exit=6"
expect_status config-file-override 13

# Large memory crosses the MMIO hole below 4 GiB: the guest still boots.
run big-memory 60 -- run --kernel "$GUESTS/hello.elf" --exit-port --memory 4G
expect_status big-memory 1

finish
