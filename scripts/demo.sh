#!/usr/bin/env bash
# The README's first command: set up, build and boot the default microVM
# (the "hello" test guest) on /dev/kvm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec build/mpvm run --kernel build/tests/guests/hello.elf --cmdline "poweroff" "$@"
