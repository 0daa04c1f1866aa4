#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The access log, line by line, in both formats.

Starts the real metricd with --access-log FILE (once with the default
combined format, once with --access-log-format json), sends a known
sequence of requests on one connection (so one worker logs them, in order),
reads every answer, stops metricd with SIGTERM (the log is complete once it
has exited) and parses the file: exactly one line per request, in order.

Combined: every line must match a strict pattern of the combined format
with the request time after it (what log tools read from nginx and
Apache), with the peer, a date between the test's start and end, the real
method, the target as sent (query and absolute-form included), the
protocol, the status, the body bytes the client received (Content-Length;
for HEAD the length it announced), the Referer and User-Agent or "-", with
'"' and bytes outside printable ASCII escaped as \\xHH, and the time taken
in seconds with six decimals (not checked against a clock).

JSON: every line must be one JSON object (json.loads on strict UTF-8) with
the same facts; strings decoded, absent fields null, bytes that are not
UTF-8 decoded as their Latin-1 character.
"""
import calendar
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
from httptest import check, finish  # noqa: E402

METRICD = os.environ.get("METRICD", "./metricd")
TIMEOUT_S = 30          # socket and exit waits: guards against a hang

H = b"Host: t\r\n"


class Req:
    """One request and what its line must say.  referer/ua: the combined
    format's text (escaped) and the JSON value, None when absent."""

    def __init__(self, raw, method, target, protocol, status, head=False,
                 referer=None, ua=None, ua_json=None):
        self.raw, self.method, self.target, self.protocol = raw, method, target, protocol
        self.status, self.head = status, head
        self.referer, self.ua = referer, ua
        self.ua_json = ua if ua_json is None else ua_json


PLAN = [
    Req(b"GET /metric-stack?id=1 HTTP/1.1\r\n" + H +
        b"Referer: http://example.test/page?x=1\r\nUser-Agent: curl/8.5.0\r\n\r\n",
        "GET", "/metric-stack?id=1", "HTTP/1.1", 200,
        referer="http://example.test/page?x=1", ua="curl/8.5.0"),
    Req(b"GET /metric-heap?id=2&work=3 HTTP/1.1\r\n" + H +
        b'User-Agent: Mozilla/5.0 "quoted" caf\xe9\r\n\r\n',
        "GET", "/metric-heap?id=2&work=3", "HTTP/1.1", 200,
        ua="Mozilla/5.0 \\x22quoted\\x22 caf\\xE9", ua_json='Mozilla/5.0 "quoted" caf\u00e9'),
    Req(b"HEAD /stats-value?id=3 HTTP/1.1\r\n" + H + b"User-Agent: t\xc3\xabst\r\n\r\n",
        "HEAD", "/stats-value?id=3", "HTTP/1.1", 200, head=True,
        ua="t\\xC3\\xABst", ua_json="t\u00ebst"),
    Req(b"GET /stats-pointer?id=4 HTTP/1.1\r\n" + H + b"\r\n",
        "GET", "/stats-pointer?id=4", "HTTP/1.1", 200),
    Req(b"GET /wp-admin/x.php?a=1&b=%22 HTTP/1.1\r\n" + H + b"\r\n",
        "GET", "/wp-admin/x.php?a=1&b=%22", "HTTP/1.1", 404),
    Req(b"DELETE /metric-stack?id=5 HTTP/1.1\r\n" + H + b"\r\n",
        "DELETE", "/metric-stack?id=5", "HTTP/1.1", 405),
    Req(b"POST /healthz HTTP/1.1\r\n" + H + b"User-Agent: poster\r\n"
        b"Content-Length: 2\r\n\r\nab",
        "POST", "/healthz", "HTTP/1.1", 405, ua="poster"),
    Req(b"GET /metric-stack?id=x HTTP/1.1\r\n" + H + b"\r\n",
        "GET", "/metric-stack?id=x", "HTTP/1.1", 400),
    Req(b"GET http://t/healthz?probe=1 HTTP/1.1\r\n" + H + b"\r\n",
        "GET", "http://t/healthz?probe=1", "HTTP/1.1", 200),
    Req(b"GET /healthz HTTP/1.0\r\nUser-Agent: old\r\n\r\n",      # then closes
        "GET", "/healthz", "HTTP/1.0", 200, ua="old"),
]

# The combined format, strictly: no unescaped '"' or '\' inside a quoted
# field, nothing outside printable ASCII anywhere.
QUOTED = r'(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\x[0-9A-F]{2})*'
COMBINED = re.compile(
    r'^(?P<peer>[0-9a-f.:]+) - - \[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    r'"(?P<method>[A-Z]+) (?P<target>(?:[\x21\x23-\x5b\x5d-\x7e]|\\x[0-9A-F]{2})+) '
    r'(?P<protocol>HTTP/1\.[01])" (?P<status>[1-5]\d\d) (?P<bytes>\d+) '
    r'"(?P<referer>' + QUOTED + r')" "(?P<ua>' + QUOTED + r')" (?P<time>\d+\.\d{6})$')



def read_answers(sock, plan):
    """(status, Content-Length) of each answer, HEAD answers without body."""
    buf = b""
    out = []
    for req in plan:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("server closed mid-answer")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        body = 0 if req.head else length
        while len(buf) < body:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("server closed mid-answer")
            buf += chunk
        buf = buf[body:]
        out.append((status, length))
    return out


def run(fmt_args):
    """Runs metricd, sends PLAN, returns (answers, log bytes, t_start, t_end)."""
    with tempfile.TemporaryDirectory(prefix="metricd-alog-") as tmp:
        path = os.path.join(tmp, "access.log")
        proc = subprocess.Popen([METRICD, "--listen", "127.0.0.1:0", "--workers", "2",
                                 "--access-log", path] + fmt_args,
                                stderr=subprocess.PIPE, text=True)
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
                s.sendall(b"".join(p.raw for p in PLAN))
                answers = read_answers(s, PLAN)
        finally:
            proc.terminate()
            try:
                rc = proc.wait(TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        t_end = int(time.time()) + 1
        check(rc == 0, f"{fmt_args or 'combined'}: metricd exits 0 on SIGTERM (got {rc})")
        check([a[0] for a in answers] == [p.status for p in PLAN],
              f"the answers have the expected statuses ({[a[0] for a in answers]})")
        with open(path, "rb") as f:
            data = f.read()
    return answers, data, t_start, t_end


def check_combined():
    answers, data, t_start, t_end = run([])
    lines = data.decode("ascii", errors="replace").splitlines()
    check(len(lines) == len(PLAN), f"combined: one line per request: {len(lines)} for {len(PLAN)}")
    for i, (line, req, (_, length)) in enumerate(zip(lines, PLAN, answers)):
        m = COMBINED.match(line)
        check(m is not None, f"combined line {i + 1} has the format: {line!r}")
        if not m:
            continue
        check(m["peer"] == "127.0.0.1", f"line {i + 1}: peer 127.0.0.1 ({m['peer']})")
        try:
            when = calendar.timegm(time.strptime(m["date"], "%d/%b/%Y:%H:%M:%S +0000"))
        except ValueError:
            when = None
        check(when is not None and t_start <= when <= t_end,
              f"line {i + 1}: date {m['date']} is in UTC, during the test")
        for key, want in (("method", req.method), ("target", req.target),
                          ("protocol", req.protocol), ("referer", req.referer or "-"),
                          ("ua", req.ua or "-")):
            check(m[key] == want, f"line {i + 1}: {key} {m[key]!r} (want {want!r})")
        check(int(m["status"]) == req.status, f"line {i + 1}: status {m['status']}")
        check(int(m["bytes"]) == length,
              f"line {i + 1}: {m['bytes']} body bytes, as the answer's Content-Length {length}")


def check_json():
    answers, data, t_start, t_end = run(["--access-log-format", "json"])
    try:
        lines = data.decode("utf-8").splitlines()      # strict: valid UTF-8 only
    except UnicodeDecodeError as e:
        check(False, f"json: the log is UTF-8 ({e})")
        return
    check(len(lines) == len(PLAN), f"json: one line per request: {len(lines)} for {len(PLAN)}")
    keys = ["time", "remote_addr", "method", "target", "protocol", "status", "body_bytes",
            "referer", "user_agent", "request_time"]
    for i, (line, req, (_, length)) in enumerate(zip(lines, PLAN, answers)):
        try:
            o = json.loads(line)
        except ValueError as e:
            check(False, f"json line {i + 1} is JSON ({e}): {line!r}")
            continue
        check(list(o) == keys, f"json line {i + 1}: keys {list(o)}")
        when = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S+00:00")
        when = calendar.timegm(when.timetuple())
        check(t_start <= when <= t_end, f"json line {i + 1}: time {o['time']} during the test")
        want = {"remote_addr": "127.0.0.1", "method": req.method, "target": req.target,
                "protocol": req.protocol, "status": req.status, "body_bytes": length,
                "referer": req.referer, "user_agent": req.ua_json}
        for key, value in want.items():
            check(o[key] == value, f"json line {i + 1}: {key} {o[key]!r} (want {value!r})")
        rt = o["request_time"]
        check(isinstance(rt, float) and 0 <= rt < TIMEOUT_S,
              f"json line {i + 1}: request_time {rt!r} is seconds")


def main():
    check_combined()
    check_json()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
