#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# metricd under valgrind memcheck: the built binary ($1/metricd) serves a
# few hundred requests over every endpoint - both paths, GET and HEAD,
# every error answer, malformed and oversized requests, pipelining, chunked
# bodies with trailers, HTTP/1.0, Connection: close, a client that resets
# mid-answer - then gets SIGTERM.  Fails on any memcheck error or any
# definitely lost block (--errors-for-leak-kinds=definite
# --error-exitcode=99), or if an answer is wrong or missing.
# Usage: tests/ci.d/valgrind.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: valgrind.sh BUILDDIR}" && pwd) || exit 1
metricd=$build/metricd
. "$(dirname "$0")/common.bash"

command -v valgrind >/dev/null 2>&1 || missing_tool "valgrind not found: apt-get install valgrind"
[ -x "$metricd" ] || { echo "FAIL: $metricd is not built"; exit 1; }
if grep -q -a -e __asan_init -e __tsan_init "$metricd"; then
	skip "$metricd is a sanitizer build; valgrind needs a plain one"
fi
valgrind --version

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=99 --track-fds=no --num-callers=30 \
	--log-file="$tmp/valgrind.log" \
	"$metricd" --listen 127.0.0.1:0 --workers 2 --no-pin --spin-us 0 \
	--access-log "$tmp/access.log" --header-timeout 2000 \
	2>"$tmp/metricd.err" &
pid=$!

port=
for _ in $(seq 1 300); do	# valgrind starts slowly: up to 30 s
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/metricd.err" | head -1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "FAIL: metricd did not start under valgrind"
	cat "$tmp/metricd.err" "$tmp/valgrind.log"
	exit 1
fi
echo "metricd under valgrind on port $port (pid $pid)"

status=0
python3 - "$port" "$tmp/answers.json" <<'EOF' || status=1
"""Drives every endpoint and error path; exits 1 if an answer is wrong.
Writes how many requests it sent and how many answers of each status it
read to argv[2], for the access-log check."""
import json
import socket
import struct
import sys
import time

port = int(sys.argv[1])
bad = 0
total = 0
sent = 0            # requests sent: at most this many access-log lines
seen = {}           # status -> answers read: at least this many lines each


def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def read_answers(s, n, heads=()):
    """Reads n answers; heads: indexes that answer a HEAD (no body)."""
    buf = b""
    out = []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return out, True
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        if len(out) in heads:
            length = 0
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                return out, True
            buf += d
        out.append((status, buf[:length]))
        seen[status] = seen.get(status, 0) + 1
        buf = buf[length:]
    return out, False


def expect(what, got, want):
    global bad, total
    total += 1
    if got != want:
        bad += 1
        print(f"FAIL: {what}: got {got}, want {want}")


def r(path, method="GET", extra=b"", version="HTTP/1.1"):
    return f"{method} {path} {version}\r\nHost: t\r\n".encode() + extra + b"\r\n"


ENDPOINTS = [("/metric-stack?id=1", 200), ("/metric-heap?id=2&work=10", 200),
             ("/stats-value?id=3", 200), ("/stats-pointer?id=4", 200),
             ("/healthz", 200), ("/stats", 200), ("/metrics", 200),
             ("/nope", 404), ("/metric-stack", 400), ("/metric-heap?id=", 400),
             ("/stats-value?id=-1", 400), ("/stats-pointer?id=99999999999999999999", 400),
             ("/metric-heap?id=1&id=2", 400), ("/metric-stack?id=1&work=x", 400)]

# Every endpoint and error, GET and HEAD, pipelined on one connection, x10.
for rep in range(10):
    s = conn()
    reqs, wants, heads = [], [], []
    for path, st in ENDPOINTS:
        reqs.append(r(path))
        wants.append(st)
        heads.append(len(reqs))
        reqs.append(r(path, "HEAD"))
        wants.append(st)
    reqs.append(r("/metric-heap?id=5", "POST", b"Content-Length: 3\r\n") + b"abc")
    wants.append(405)
    sent += len(reqs)
    s.sendall(b"".join(reqs))
    got, _ = read_answers(s, len(wants), set(heads))
    expect(f"pipelined batch {rep}", [g[0] for g in got], wants)
    s.close()

# Bodies: Content-Length and chunked with trailers, then a pipelined request.
for path in ("/metric-stack?id=7", "/metric-heap?id=8"):
    s = conn()
    sent += 3
    s.sendall(r(path, extra=b"Content-Length: 5\r\n") + b"hello"
              + r(path, extra=b"Transfer-Encoding: chunked\r\n")
              + b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" + r(path))
    got, _ = read_answers(s, 3)
    expect(f"bodies on {path}", [g[0] for g in got], [200, 200, 200])
    s.close()

# HTTP/1.0 (closes), keep-alive 1.0, Connection: close.
for extra, version, closes in ((b"", "HTTP/1.0", True),
                               (b"Connection: keep-alive\r\n", "HTTP/1.0", False),
                               (b"Connection: close\r\n", "HTTP/1.1", True)):
    s = conn()
    sent += 1
    s.sendall(r("/metric-heap?id=9", extra=extra, version=version))
    got, _ = read_answers(s, 1)
    s.settimeout(2 if closes else 0.3)
    try:
        eof = s.recv(1) == b""
    except socket.timeout:
        eof = False
    expect(f"{version} {extra!r}", (got[0][0] if got else None, eof), (200, closes))
    s.close()

# Malformed and oversized: answered, then closed.
MALFORMED = [
    (b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET /healthz\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\nHost: t\n\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64)), 400),
]
for data, want in MALFORMED:
    s = conn()
    sent += 1
    s.sendall(data)
    got, _ = read_answers(s, 1)
    expect(f"malformed {data[:30]!r}", got[0][0] if got else None, want)
    s.close()

# A head that never completes: 408 after --header-timeout.
s = conn()
sent += 1
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
got, _ = read_answers(s, 1)
expect("header timeout", got[0][0] if got else None, 408)
s.close()

# Clients that vanish: reset mid-answer, close with answers unread.
for k in range(4):
    s = conn()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sent += 300
    s.sendall(b"".join(r(f"/metric-heap?id={i}") for i in range(300)))
    s.recv(100)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    s = conn()
    sent += 100
    s.sendall(b"".join(r(f"/metric-stack?id={i}") for i in range(100)))
    s.close()

time.sleep(1)
s = conn()
sent += 1
s.sendall(r("/stats"))
got, _ = read_answers(s, 1)
expect("stats at the end", got[0][0] if got else None, 200)
s.close()
with open(sys.argv[2], "w") as f:
    json.dump({"sent": sent, "seen": seen}, f)
print(f"{total} checks, {bad} failed")
sys.exit(1 if bad else 0)
EOF

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
echo "--- metricd stderr (tail)"
tail -5 "$tmp/metricd.err"
echo "--- valgrind summary"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|in use at exit" \
	"$tmp/valgrind.log"
echo "--- access log: $(wc -l <"$tmp/access.log") lines"
# Every answer the client read has its line (at least as many lines per
# status), no line is made up (at most one per request sent), and every
# line has the documented (combined) format: peer, date, request ("-" for
# a request that never had a whole request line), status, bytes, referer,
# user agent, time in seconds.
python3 - "$tmp/access.log" "$tmp/answers.json" <<'EOF' || status=1
import json, re, sys
line_re = re.compile(r'^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                     r'"(?:\S+ \S+ \S+|-)" (?P<status>\d{3}) \d+ "[^"]*" "[^"]*" \d+\.\d{6}$')
a = json.load(open(sys.argv[2]))
lines = open(sys.argv[1]).read().splitlines()
bad = [l for l in lines if not line_re.match(l)]
per = {}
for l in lines:
    m = line_re.match(l)
    if m:
        per[m.group("status")] = per.get(m.group("status"), 0) + 1
short = {st: (n, per.get(st, 0)) for st, n in a["seen"].items() if per.get(st, 0) < n}
print(f"access log: {len(lines)} lines for {a['sent']} requests sent; lines per status {per}; "
      f"answers read per status {a['seen']}")
for l in bad[:5]:
    print(f"FAIL: malformed access-log line: {l!r}")
if short:
    print(f"FAIL: fewer lines than answers read, per status (answers, lines): {short}")
if len(lines) > a["sent"]:
    print(f"FAIL: {len(lines)} lines for {a['sent']} requests")
sys.exit(1 if bad or short or len(lines) > a["sent"] else 0)
EOF
if [ "$rc" -ne 0 ]; then
	echo "FAIL: metricd under valgrind exited $rc (99 = memcheck errors or definite leaks)"
	cat "$tmp/valgrind.log"
	status=1
elif grep -qE "definitely lost: [1-9]" "$tmp/valgrind.log"; then
	echo "FAIL: definitely lost blocks"
	cat "$tmp/valgrind.log"
	status=1
fi
[ "$status" -eq 0 ] && echo "PASS: no memcheck errors, no definite leaks"
exit "$status"
