#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The access log as log tools read it: metricd writes its default
# (combined) log for a mix of requests - keep-alive and HTTP/1.0, HEAD,
# 404s with queries, other methods (405), a body, an absolute-form target,
# Referer and User-Agent present and absent, a User-Agent with '"' and
# bytes outside ASCII, one cut at its cap, an unsupported version (505),
# garbage (400, no request line) - and GoAccess must parse every line,
# once as COMBINED, once with the request time (%T) named, and read each
# field right: requests with their methods and protocols, the 404s, the
# Referer, the User-Agent's system, and (with %T) the times.
# Usage: tests/ci.d/goaccess.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: goaccess.sh BUILDDIR}" && pwd) || exit 1
. "$(dirname "$0")/common.bash"

command -v goaccess >/dev/null 2>&1 ||
	missing_tool "goaccess not found: apt-get install goaccess (tools/setup-deps installs it)"
command -v python3 >/dev/null 2>&1 || missing_tool "python3 not found"
[ -x "$build/metricd" ] || { echo "FAIL: $build/metricd is not built"; exit 1; }
goaccess --version | head -1

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

"$build/metricd" --listen 127.0.0.1:0 --workers 2 --no-pin \
	--access-log "$tmp/access.log" 2>"$tmp/metricd.err" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/metricd.err")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: metricd did not start:"; cat "$tmp/metricd.err"; exit 1; }

# Each connection's requests, then its answers until the server closes.
python3 - "$port" <<'PY' || { echo "FAIL: the requests"; exit 1; }
import socket, sys

port = int(sys.argv[1])
H = b"Host: t\r\n"
UA = b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) \"quoted\" caf\xe9 \xc3\xbc\r\n"
conns = [
    b"GET /metric-stack?id=1 HTTP/1.1\r\n" + H + b"Referer: http://example.test/a?b=1\r\n" + UA + b"\r\n"
    b"HEAD /stats-value?id=2 HTTP/1.1\r\n" + H + UA + b"\r\n"
    b"GET /metric-heap?id=3&work=2 HTTP/1.1\r\n" + H + b"\r\n"
    b"GET /wp-admin/setup-config.php?step=1 HTTP/1.1\r\n" + H + UA + b"\r\n"
    b"DELETE /metric-stack?id=4 HTTP/1.1\r\n" + H + b"\r\n"
    b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello"
    b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n"
    b"GET http://t/healthz?probe=1 HTTP/1.1\r\n" + H + b"\r\n"
    b"GET /metric-stack?id=5 HTTP/1.1\r\n" + H + b"User-Agent: " + b"x" * 600 + b"\r\n\r\n"
    b"GET /healthz HTTP/1.0\r\nUser-Agent: curl/8.5.0\r\n\r\n",
    b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
]
for _ in range(20):
    conns.append(b"GET /metric-stack?id=9 HTTP/1.1\r\n" + H + UA + b"Connection: close\r\n\r\n")
for data in conns:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        while s.recv(65536):
            pass
PY
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc = 0 ] || { echo "FAIL: metricd exited $rc on SIGTERM"; exit 1; }
lines=$(wc -l <"$tmp/access.log")
echo "metricd wrote $lines lines; the first three:"
head -3 "$tmp/access.log" | cut -c1-200
[ "$lines" -ge 30 ] || { echo "FAIL: expected at least 30 lines"; exit 1; }

bad=0
# parse NAME ARGS...: goaccess's JSON report must count every line as valid.
parse() {
	local name=$1
	shift
	rm -f "$tmp/invalid.log"
	goaccess "$tmp/access.log" --no-global-config "$@" \
		--invalid-requests="$tmp/invalid.log" -o "$tmp/$name.json" >"$tmp/$name.out" 2>&1 ||
		{ echo "FAIL: goaccess ($name) exited $?:"; cat "$tmp/$name.out"; bad=1; return; }
	python3 - "$tmp/$name.json" "$lines" "$name" <<'PY' || bad=1
import json, sys

report, lines, name = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
g = report["general"]
print(f"{name}: total {g['total_requests']}, valid {g['valid_requests']}, "
      f"failed {g['failed_requests']} of {lines} lines")
ok = g["total_requests"] == lines and g["valid_requests"] == lines and g["failed_requests"] == 0
# GoAccess takes a line with fields missing at its end as valid: what it
# read from each field must be right too.
def items(panel):
    return [(d.get("data"), d.get("method"), d.get("protocol")) for d in report[panel]["data"]]
want = {
    "requests": [("/metric-stack?id=1", "GET", "HTTP/1.1"), ("/metric-stack?id=4", "DELETE", "HTTP/1.1"),
                 ("/healthz", "POST", "HTTP/1.1"), ("/healthz", "GET", "HTTP/1.0"),
                 ("http://t/healthz?probe=1", "GET", "HTTP/1.1")],
    "not_found": [("/wp-admin/setup-config.php?step=1", "GET", "HTTP/1.1")],
    "referrers": [("http://example.test/a?b=1", None, None)],
}
for panel, entries in want.items():
    for e in entries:
        if e not in items(panel):
            print(f"{name}: no {e} in goaccess's {panel}: {items(panel)[:8]}")
            ok = False
oses = [d["data"] for d in report["os"]["data"]]
if not any("Linux" in o for o in oses):
    print(f"{name}: goaccess did not read the User-Agent (operating systems: {oses})")
    ok = False
if name == "with-time":
    # The request time was read: some request took more than 0 us.
    times = [d.get("avgts", 0) for d in report["requests"]["data"]]
    print(f"{name}: average times (us) of the requests: {times[:5]}...")
    ok = ok and any(t > 0 for t in times)
sys.exit(0 if ok else 1)
PY
	if [ -s "$tmp/invalid.log" ]; then
		echo "FAIL: goaccess ($name) found invalid lines:"
		head -5 "$tmp/invalid.log"
		bad=1
	fi
}
parse combined --log-format=COMBINED
parse with-time --log-format='%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T' \
	--date-format=%d/%b/%Y --time-format=%T
[ $bad = 0 ] && echo "PASS: goaccess parses every line of metricd's access log"
exit $bad
