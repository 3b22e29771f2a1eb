#!/usr/bin/env bash
# Bad command lines, config files and kernel images give a clear error and
# a documented status; mpvm never crashes on them.
. "$(dirname "$0")/lib.sh"

run no-args 10 --
expect_status no-args 64

run unknown-flag 10 -- run --frobnicate
expect_status unknown-flag 64
expect_err unknown-flag "frobnicate"

run bad-cpus 10 -- run --kernel "$GUESTS/hello.elf" --cpus two
expect_status bad-cpus 64
expect_err bad-cpus "cpus"

run missing-file 10 -- run --config-file "$T_TMP/nope.json"
expect_status missing-file 78
expect_err missing-file "nope.json"

printf '{ "machine-config": { "vcpu_count": "two" } }' >"$T_TMP/type.json"
run wrong-type 10 -- run --config-file "$T_TMP/type.json"
expect_status wrong-type 78
expect_err wrong-type 'machine-config.vcpu_count: expected an integer'

printf '{ "boot-source": { "kernel_image_path": "x" }, "machin-config": {} }' >"$T_TMP/key.json"
run unknown-key 10 -- run --config-file "$T_TMP/key.json"
expect_status unknown-key 78
expect_err unknown-key 'machin-config'

printf '{ "boot-source": { "kernel_image_path": "x" ' >"$T_TMP/trunc.json"
run malformed-json 10 -- run --config-file "$T_TMP/trunc.json"
expect_status malformed-json 78
expect_err malformed-json 'line 1'

# The text rule (README "Config file"): strings are UTF-8 without NUL.
printf '{ "boot-source": { "kernel_image_path": "x", "boot_args": "a\xffb" } }' >"$T_TMP/utf8.json"
run config-not-utf8 10 -- run --config-file "$T_TMP/utf8.json"
expect_status config-not-utf8 78
expect_err config-not-utf8 'utf8.json: boot-source.boot_args: not valid UTF-8 \(byte 0xff at offset 1\)'
printf '{ "boot-source": { "kernel_image_path": "x\\u0000y" } }' >"$T_TMP/nul.json"
run config-nul 10 -- run --config-file "$T_TMP/nul.json"
expect_status config-nul 78
expect_err config-nul 'nul.json: boot-source.kernel_image_path: contains a NUL character'
run flag-not-utf8 10 -- run --kernel "$GUESTS/hello.elf" --boot-args $'quiet \xc0\xaf'
expect_status flag-not-utf8 64
expect_err flag-not-utf8 '--boot-args: not valid UTF-8 \(byte 0xc0 at offset 6\)'

run no-kernel 10 -- run --cpus 1
expect_status no-kernel 78
expect_err no-kernel 'kernel'

run missing-kernel 10 -- run --kernel "$T_TMP/absent.elf"
expect_status missing-kernel 78
expect_err missing-kernel 'absent.elf'

head -c 100 "$GUESTS/hello.elf" >"$T_TMP/trunc.elf"
run truncated-kernel 10 -- run --kernel "$T_TMP/trunc.elf"
expect_status truncated-kernel 78

head -c 4096 /dev/urandom >"$T_TMP/noise.bin"
run garbage-kernel 10 -- run --kernel "$T_TMP/noise.bin"
expect_status garbage-kernel 78

run too-little-memory 10 -- run --kernel "$GUESTS/hello.elf" --memory 1
expect_status too-little-memory 78
finish
