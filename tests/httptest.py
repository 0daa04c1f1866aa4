# SPDX-License-Identifier: BSD-2-Clause
"""What the Python tests in tests/ share: "ok -" / "FAIL -" lines and the
count of failures, the real metricd started on an ephemeral port, and
answers read off a socket.  Sockets time out (a guard against a hang, far
above the few ms an answer takes) and a close mid-answer is an error,
never a retry."""
import os
import re
import socket
import subprocess
import sys

METRICD = os.environ.get("METRICD", "./metricd")
TIMEOUT_S = 30
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
    print(("ok - " if cond else "FAIL - ") + what, flush=True)


def finish():
    """The last line, and the exit status: 1 when a check failed."""
    print(f"{failures} failed")
    return 1 if failures else 0


def start(*args):
    """metricd on 127.0.0.1 port 0 with args; (process, port) once it
    says where it listens (stderr stays a pipe the caller may read)."""
    p = subprocess.Popen([METRICD, "--listen", "127.0.0.1:0", *args],
                         stderr=subprocess.PIPE, text=True)
    while True:
        line = p.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
    p.kill()
    p.wait()
    sys.exit("metricd did not start")


def stop(p):
    """SIGTERM, then its exit status (a hang guard of TIMEOUT_S: killed)."""
    p.terminate()
    try:
        return p.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)


def request(target, method="GET"):
    return f"{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


def _recv_some(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise EOFError("server closed the connection mid-answer")
    return chunk


def read_responses(sock, n):
    """n answers: (status, body) pairs."""
    buf, out = b"", []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            buf += _recv_some(sock)
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"Content-Length: (\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(buf) < length:
            buf += _recv_some(sock)
        out.append((status, buf[:length]))
        buf = buf[length:]
    return out
