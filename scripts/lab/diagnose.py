#!/usr/bin/env python3
"""Where are the lab's CPUs? Used by kvm-lab.sh when the lab stalls.

diagnose.py MONITOR_SOCKET [KALLSYMS]

Asks QEMU's monitor for every lab CPU's registers three times, a second
apart, and prints each CPU's instruction pointer (with the lab kernel's symbol
when KALLSYMS, the lab's /proc/kallsyms, is given), privilege level and
interrupt flag. A CPU that stays in the lab kernel with the same symbol is
stuck there; an address no symbol covers is a nested guest or user code."""
import bisect
import re
import socket
import sys
import time


def load_symbols(path):
    syms = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and p[1] in "tTwW":
                    syms.append((int(p[0], 16), p[2] + (" " + p[3] if len(p) > 3 else "")))
    except OSError:
        pass
    syms.sort()
    return syms


def name(syms, addrs, x):
    i = bisect.bisect_right(addrs, x) - 1
    if i >= 0 and x - syms[i][0] < 0x10000:
        return "%s+0x%x" % (syms[i][1], x - syms[i][0])
    return "0x%x" % x


def ask(sock, cmd):
    sock.sendall(cmd.encode() + b"\n")
    out, end = b"", time.time() + 3
    sock.settimeout(0.3)
    while time.time() < end:
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            if b"(qemu)" in out[-200:]:
                break
            continue
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")


def main():
    syms = load_symbols(sys.argv[2]) if len(sys.argv) > 2 else []
    addrs = [a for a, _ in syms]
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    ask(s, "")
    for k in range(3):
        regs = ask(s, "info registers -a")
        cpus = re.findall(r"RIP=([0-9a-f]+) RFL=([0-9a-f]+) .*?CPL=(\d).*?HLT=(\d)", regs)
        print("kvm-lab: sample %d: " % (k + 1) + " | ".join(
            "cpu%d %s cpl=%s if=%d hlt=%s" % (i, name(syms, addrs, int(rip, 16)), cpl,
                                               (int(fl, 16) >> 9) & 1, hlt)
            for i, (rip, fl, cpl, hlt) in enumerate(cpus)), file=sys.stderr)
        time.sleep(1)


if __name__ == "__main__":
    main()
