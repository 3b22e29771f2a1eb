#!/usr/bin/env python3
"""The host side of test_linux_vsock.sh, speaking Firecracker's vsock protocol
on mpvm's UNIX sockets. Bounded: every socket has a timeout.

  vsock_host.py serve PATH N          listen on PATH (uds_path_PORT), echo N
                                      connections (read to EOF, send back),
                                      at once, one thread each
  vsock_host.py connect PATH PORT N BYTES
                                      N connections at once through PATH
                                      ("CONNECT PORT" / "OK <port>"), each
                                      sending BYTES random bytes, half-closing
                                      and checking the echo byte for byte
Prints one result line and exits 0 when every connection passed.
"""
import os
import socket
import sys
import threading

TIMEOUT_S = 120


def read_to_eof(s):
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def serve(path, n):
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(n)
    ls.settimeout(TIMEOUT_S)
    ok = []

    def echo(c):
        c.settimeout(TIMEOUT_S)
        data = read_to_eof(c)
        c.sendall(data)
        c.close()
        ok.append(len(data))

    threads = []
    for _ in range(n):
        c, _ = ls.accept()
        t = threading.Thread(target=echo, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(TIMEOUT_S)
    print(f"served {len(ok)} of {n}, bytes {sorted(set(ok))}")
    return len(ok) == n


def connect(path, port, n, nbytes):
    results = [None] * n

    def one(i):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(TIMEOUT_S)
            s.connect(path)
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    results[i] = "closed before OK (the guest refused?)"
                    return
                line += b
            if not line.startswith(b"OK "):
                results[i] = f"answer {line!r}"
                return
            data = os.urandom(nbytes)
            # Send and read at once: the guest echoes only after EOF, but a
            # reader on the other side keeps both directions flowing.
            sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            sender.start()
            echo = read_to_eof(s)
            sender.join(TIMEOUT_S)
            results[i] = True if echo == data else f"echo of {len(echo)} bytes differs"
        except OSError as e:
            results[i] = f"error {e}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT_S)
    good = sum(1 for r in results if r is True)
    bad = [r for r in results if r is not True]
    print(f"echoed {good} of {n}, {nbytes} bytes each" + (f"; failures: {bad[:3]}" if bad else ""))
    return good == n


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        sys.exit(0 if serve(sys.argv[2], int(sys.argv[3])) else 1)
    sys.exit(0 if connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])) else 1)
