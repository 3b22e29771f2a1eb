#!/usr/bin/env bash
# What PMU Linux finds under each mode, and whether mpvm says the same.
# off: no PMU (CPUID leaf 0xA zero, no "cpu" event source: perf offers
# software events only). auto on a host without a vPMU: the same, and
# GET /pmu and `mpvm pmu probe` agree with what the guest saw. soft: Linux
# boots; it finds the counters README "Linux on the soft PMU" describes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_linux.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is needed to read mpvm's JSON"

boot=(--kernel "$LINUX/vmlinuz" --initrd "$LINUX/initrd.cpio.gz" --memory 128)

run_linux off 240 -- "$MPVM" run "${boot[@]}" --pmu off --cmdline "$LINUX_CMDLINE mpvm.test=pmu"
expect_status off 0
expect_out off "^LTEST: info pmu none$"
expect_out off "^LTEST: info cpuid-0xa eax=0x0 ebx=0x0 ecx=0x0 edx=0x0$"
expect_out off "^LTEST: info sources .*software"

# auto: the probe's verdict decides; the guest must see what GET /pmu says.
probe=$("$MPVM" pmu probe --json)
auto_mode=$(python3 -c 'import json,sys; p=json.loads(sys.argv[1]); print("mediated" if p["modes"]["mediated"]["available"] else "legacy" if p["modes"]["legacy"]["available"] else "off")' "$probe")
mkfifo "$T_TMP/in"
exec {hold}<>"$T_TMP/in"
"$MPVM" run "${boot[@]}" --pmu auto --api-sock "$T_TMP/api.sock" --cmdline "$LINUX_CMDLINE mpvm.test=pmu mpvm.hold=1" \
	<"$T_TMP/in" >"$T_TMP/auto.out" 2>"$T_TMP/auto.err" &
pid=$!
T_PIDS+=("$pid")
for _ in $(seq 1200); do grep -q "LTEST: holding" "$T_TMP/auto.out" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
curl -s --max-time 60 --unix-socket "$T_TMP/api.sock" http://localhost/pmu >"$T_TMP/pmu.json"
echo >&"$hold"
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait "$pid"
STATUS=$?
exec {hold}>&-
OUT=$(tr -d '\r' <"$T_TMP/auto.out")
ERR=$(cat "$T_TMP/auto.err")
expect_status auto 0
api_mode=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$T_TMP/pmu.json" 2>/dev/null)
[ "$api_mode" = "$auto_mode" ] && pass "auto: GET /pmu says $api_mode, as the probe's verdict implies" ||
	fail "auto: GET /pmu says '$api_mode', the probe implies $auto_mode"
if [ "$auto_mode" = off ]; then
	expect_out auto "^LTEST: info pmu none$"
	expect_out auto "^LTEST: info cpuid-0xa eax=0x0 "
else
	expect_out auto "^LTEST: info pmu cpu"
fi

run_linux soft 240 -- "$MPVM" run "${boot[@]}" --pmu soft --log-level Info --cmdline "$LINUX_CMDLINE mpvm.test=pmu"
expect_status soft 0
# The soft model's default: version 2, 4 counters of 48 bits, 7 events.
expect_out soft "^LTEST: info cpuid-0xa eax=0x7300402 "
expect_out soft "^LTEST: info perf "
finish
