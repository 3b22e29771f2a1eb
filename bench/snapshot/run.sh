#!/usr/bin/env bash
# bench/snapshot: what a snapshot costs and what a restore saves, on the
# Linux test guest (Debian's kernel, 256 MiB, the loop scenario writing to an
# ext4 root on virtio-blk). Per run:
#   cold boot      process start -> "mpvm-init: up" (the first line /init
#                  prints) and -> the loop's first tick;
#   snapshot       PUT /snapshot/create on the paused guest (the request's
#                  time), the snapshot file's size, the memory file's
#                  apparent size and the disk it takes (zero pages are holes);
#   restore        `mpvm run --restore ... --resume` process start -> mpvm's
#                  "running" log line (the vCPUs released) and -> the first
#                  tick after the restore.
# Times are taken from outside (spawn, lines on the console and the log).
# Prints a Markdown table, writes bench/results/snapshot.json.
# Usage: bench/snapshot/run.sh [RUNS]   Env: BUILD_DIR (build)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
[ -x "$B/mpvm" ] && [ -r "$B/linux/vmlinuz" ] ||
	{ echo "bench/snapshot: build mpvm and the Linux guest first (make -C $B linux-guest)" >&2; exit 1; }
mkdir -p bench/results
# In /tmp: the API socket cannot live on the lab's 9p root, and the lab's
# /tmp is a tmpfs (files in memory, as a host's page cache would hold them).
W=$(mktemp -d /tmp/mpvm-snapbench.XXXXXX)
trap 'rm -rf "$W"' EXIT
exec python3 - "$B" "$W" "${1:-5}" <<'PY'
import json, os, select, signal, socket, statistics, subprocess, sys, time

B, W, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
MPVM = os.path.join(B, "mpvm")
LINUX = os.path.join(B, "linux")
CMDLINE = "console=ttyS0 reboot=k panic=1 pci=off quiet mpvm.test=loop"

def api(sock, method, path, body):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(600)
    s.connect(sock)
    b = body.encode()
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n"
               "Content-Type: application/json\r\n\r\n" % (method, path, len(b))).encode() + b)
    r = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        r += d
    s.close()
    code = int(r.split(b" ", 2)[1])
    if code // 100 != 2:
        raise SystemExit("bench/snapshot: %s %s: %s" % (method, path, r.decode(errors="replace")))

def spawn(args):
    return subprocess.Popen([MPVM, "run"] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

def wait_lines(p, t0, wants, timeout=600):
    """Seconds from t0 until each (stream, text) in wants is seen."""
    got, bufs = {}, {p.stdout: b"", p.stderr: b""}
    end = time.monotonic() + timeout
    while len(got) < len(wants):
        left = end - time.monotonic()
        if left <= 0 or p.poll() is not None:
            raise SystemExit("bench/snapshot: never saw %s (stderr: %s)" %
                             ([w for w in wants if w not in got], bufs[p.stderr][-500:]))
        r, _, _ = select.select([p.stdout, p.stderr], [], [], left)
        for f in r:
            d = os.read(f.fileno(), 65536)
            bufs[f] += d.replace(b"\r", b"")  # the serial console's CRLF
            now = time.monotonic()
            for w in wants:
                stream = p.stdout if w[0] == "out" else p.stderr
                if w not in got and stream is f and w[1].encode() in bufs[f]:
                    got[w] = now - t0
    return got

def stop(p):
    p.kill()
    p.wait()

rows = {k: [] for k in ("boot_init_ms", "boot_tick_ms", "create_ms", "snap_bytes", "mem_bytes",
                        "mem_disk_bytes", "restore_running_ms", "restore_tick_ms")}
for run in range(RUNS):
    img, sock = os.path.join(W, "root.ext4"), os.path.join(W, "api.sock")
    os.makedirs(os.path.join(W, "rootdir"), exist_ok=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", os.path.join(W, "rootdir"), img, "32M"],
                   check=True)
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    p = spawn(["--kernel", os.path.join(LINUX, "vmlinuz"), "--initrd",
               os.path.join(LINUX, "initrd.cpio.gz"), "--memory", "256", "--api-sock", sock,
               "--drive", "id=root,path=%s,root" % img, "--cmdline", CMDLINE])
    g = wait_lines(p, t0, [("out", "mpvm-init: up"), ("out", "LTEST: tick 1\n")])
    rows["boot_init_ms"].append(g[("out", "mpvm-init: up")] * 1000)
    rows["boot_tick_ms"].append(g[("out", "LTEST: tick 1\n")] * 1000)
    time.sleep(0.5)
    api(sock, "PATCH", "/vm", '{"state": "Paused"}')
    snap, mem = os.path.join(W, "snap"), os.path.join(W, "mem")
    t = time.monotonic()
    api(sock, "PUT", "/snapshot/create",
        json.dumps({"snapshot_path": snap, "mem_file_path": mem}))
    rows["create_ms"].append((time.monotonic() - t) * 1000)
    stop(p)
    rows["snap_bytes"].append(os.path.getsize(snap))
    rows["mem_bytes"].append(os.path.getsize(mem))
    rows["mem_disk_bytes"].append(os.stat(mem).st_blocks * 512)
    t0 = time.monotonic()
    p = spawn(["--restore", snap, "--restore-mem", mem, "--resume", "--log-level", "Info"])
    g = wait_lines(p, t0, [("err", ": running, "), ("out", "LTEST: tick")])
    rows["restore_running_ms"].append(g[("err", ": running, ")] * 1000)
    rows["restore_tick_ms"].append(g[("out", "LTEST: tick")] * 1000)
    stop(p)
    print("run %d: boot %.0f ms, create %.0f ms, restore %.1f ms" %
          (run + 1, rows["boot_init_ms"][-1], rows["create_ms"][-1],
           rows["restore_running_ms"][-1]), file=sys.stderr)

med = {k: statistics.median(v) for k, v in rows.items()}
ratio = med["restore_running_ms"] / med["boot_init_ms"]
print("| Linux guest, 256 MiB (median of %d) | value |" % RUNS)
print("|---|---|")
print("| cold boot: start -> /init running | %.0f ms |" % med["boot_init_ms"])
print("| cold boot: start -> first loop tick | %.0f ms |" % med["boot_tick_ms"])
print("| snapshot create (paused guest, PUT /snapshot/create) | %.0f ms |" % med["create_ms"])
print("| snapshot file | %.1f KiB |" % (med["snap_bytes"] / 1024))
print("| memory file: size / on disk (zero pages are holes) | %.0f MiB / %.1f MiB |" %
      (med["mem_bytes"] / 2**20, med["mem_disk_bytes"] / 2**20))
print("| restore: start -> vCPUs running | %.1f ms |" % med["restore_running_ms"])
print("| restore: start -> first loop tick | %.0f ms |" % med["restore_tick_ms"])
print("| restore-to-running / cold boot-to-init | %.3fx |" % ratio)
json.dump({"runs": RUNS, "median": med, "all": rows, "restore_over_boot": ratio},
          open("bench/results/snapshot.json", "w"), indent=2)
PY
