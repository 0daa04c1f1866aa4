#!/usr/bin/env python3
"""The access log, line by line.

Starts the real metricd with --access-log FILE, sends a known sequence of
requests on one connection (so one worker logs them, in order), reads
every answer, stops metricd with SIGTERM (the log is complete once it has
exited) and parses the file: exactly one line per request, in order, each
with the peer, a date between the test's start and end, the request
(method, route - "-" for none - and version), the status, the body bytes
the client received (Content-Length; for HEAD the length it announced) and
the time taken ("...us", not checked).
"""
import calendar
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

METRICD = os.environ.get("METRICD", "./metricd")
TIMEOUT_S = 30          # socket and exit waits: guards against a hang
failures = 0

# (raw request, expected "METHOD ROUTE VERSION" in the log, status, HEAD?)
PLAN = [
    (b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /metric-stack HTTP/1.1", 200, False),
    (b"GET /metric-heap?id=2&work=3 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /metric-heap HTTP/1.1", 200, False),
    (b"HEAD /stats-value?id=3 HTTP/1.1\r\nHost: t\r\n\r\n", "HEAD /stats-value HTTP/1.1", 200, True),
    (b"GET /stats-pointer?id=4 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /stats-pointer HTTP/1.1", 200, False),
    (b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", "GET - HTTP/1.1", 404, False),
    (b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab", "- /healthz HTTP/1.1", 405, False),
    (b"GET /metric-stack?id=x HTTP/1.1\r\nHost: t\r\n\r\n", "GET /metric-stack HTTP/1.1", 400, False),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "GET /healthz HTTP/1.1", 200, False),
    (b"GET /healthz HTTP/1.0\r\n\r\n", "GET /healthz HTTP/1.0", 200, False),   # then closes
]
LINE = re.compile(r'^(?P<peer>\S+) - - \[(?P<date>[^\]]+)\] "(?P<req>[^"]*)" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+) (?P<us>\d+)us$')


def check(cond, what):
    global failures
    if cond:
        print("ok -", what)
    else:
        failures += 1
        print("FAIL -", what)
    sys.stdout.flush()


def read_answers(sock, plan):
    """(status, Content-Length) of each answer, HEAD answers without body."""
    buf = b""
    out = []
    for _, _, _, head_only in plan:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("server closed mid-answer")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        body = 0 if head_only else length
        while len(buf) < body:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("server closed mid-answer")
            buf += chunk
        buf = buf[body:]
        out.append((status, length))
    return out


def main():
    with tempfile.TemporaryDirectory(prefix="metricd-alog-") as tmp:
        path = os.path.join(tmp, "access.log")
        proc = subprocess.Popen([METRICD, "--listen", "127.0.0.1:0", "--workers", "2",
                                 "--access-log", path], stderr=subprocess.PIPE, text=True)
        port = None
        for line in proc.stderr:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            proc.kill()
            proc.wait()
            sys.exit("metricd did not start")
        # A second of slack before: the worker dates its batch with the
        # coarse clock, which may still show the previous second.
        t_start = int(time.time()) - 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
                s.sendall(b"".join(p[0] for p in PLAN))
                answers = read_answers(s, PLAN)
        finally:
            proc.terminate()
            try:
                rc = proc.wait(TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        t_end = int(time.time()) + 1
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check([a[0] for a in answers] == [p[2] for p in PLAN],
              f"the answers have the expected statuses ({[a[0] for a in answers]})")
        with open(path) as f:
            lines = f.read().splitlines()

    check(len(lines) == len(PLAN), f"one line per request: {len(lines)} lines for {len(PLAN)}")
    for i, (line, (_, want_req, want_status, _), (_, length)) in enumerate(zip(lines, PLAN, answers)):
        m = LINE.match(line)
        check(m is not None, f"line {i + 1} has the format: {line!r}")
        if not m:
            continue
        check(m["peer"] == "127.0.0.1", f"line {i + 1}: peer 127.0.0.1 ({m['peer']})")
        try:
            when = calendar.timegm(time.strptime(m["date"], "%d/%b/%Y:%H:%M:%S +0000"))
        except ValueError:
            when = None
        check(when is not None and t_start <= when <= t_end,
              f"line {i + 1}: date {m['date']} is in UTC, during the test")
        check(m["req"] == want_req, f"line {i + 1}: request {m['req']!r} (want {want_req!r})")
        check(int(m["status"]) == want_status, f"line {i + 1}: status {m['status']}")
        check(int(m["bytes"]) == length,
              f"line {i + 1}: {m['bytes']} body bytes, as the answer's Content-Length {length}")
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
