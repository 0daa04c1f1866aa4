#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Scale-out: two metricd instances on ephemeral loopback ports behind
# HAProxy (round robin, health-checked on /healthz), N requests through
# HAProxy with blast; then each instance's own GET /stats must show that it
# served some of them, and the two together exactly N, all 200, no errors.
# Usage: tests/ci.d/haproxy.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: haproxy.sh BUILDDIR}" && pwd) || exit 1
. "$(dirname "$0")/common.bash"
N=${N:-4000}
path='/metric-stack?id=7'
endpoint=/metric-stack

command -v haproxy >/dev/null 2>&1 ||
	missing_tool "haproxy not found: apt-get install haproxy (tools/setup-deps installs it)"
for f in metricd blast; do
	[ -x "$build/$f" ] || { echo "FAIL: $build/$f is not built"; exit 1; }
done
haproxy -v | head -1
# The shipped balancer config (tests/ci.d/cluster.sh runs it for real).
top=$(cd "$(dirname "$0")/../.." && pwd)
haproxy -c -q -f "$top/dist/haproxy/metricd.cfg" ||
	{ echo "FAIL: haproxy rejects dist/haproxy/metricd.cfg"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Starts metricd on an ephemeral port and sets the variable named $2 to it.
start_metricd() {	# name, variable
	local log="$tmp/$1.log" port=
	"$build/metricd" --listen 127.0.0.1:0 --workers 1 --no-pin >/dev/null 2>"$log" &
	pids+=($!)
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "FAIL: $1 did not start:"; cat "$log"; return 1; }
	printf -v "$2" %s "$port"
}

# A free loopback port for HAProxy (it cannot report one it picked itself).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stats_field() {	# port, python expression over the /stats JSON `s`
	curl -sf --max-time 5 "http://127.0.0.1:$1/stats" |
		python3 -c "import json, sys; s = json.load(sys.stdin); print($2)"
}

start_metricd m1 p1 || exit 1
start_metricd m2 p2 || exit 1
echo "metricd instances on ports $p1 and $p2"

started=
for attempt in 1 2 3; do
	hp=$(free_port)
	cat >"$tmp/haproxy.cfg" <<CFG
global
	maxconn 512

defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	option http-keep-alive

frontend fe
	bind 127.0.0.1:$hp
	default_backend metricd

backend metricd
	balance roundrobin
	option httpchk GET /healthz
	http-check expect status 200
	server m1 127.0.0.1:$p1 check inter 1s
	server m2 127.0.0.1:$p2 check inter 1s
CFG
	haproxy -c -q -f "$tmp/haproxy.cfg" || { echo "FAIL: haproxy rejects its config"; exit 1; }
	haproxy -db -f "$tmp/haproxy.cfg" </dev/null >"$tmp/haproxy.log" 2>&1 &
	hpid=$!
	pids+=($hpid)
	for _ in $(seq 50); do
		if curl -sf --max-time 2 "http://127.0.0.1:$hp/healthz" >/dev/null 2>&1; then
			started=1; break
		fi
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$started" ] && break
	echo "haproxy did not come up on port $hp (attempt $attempt):"; cat "$tmp/haproxy.log"
	kill "$hpid" 2>/dev/null
done
[ -n "$started" ] || { echo "FAIL: haproxy did not start"; exit 1; }
echo "haproxy on port $hp"

# Requests to $endpoint before the run (none: health checks use /healthz,
# the probe above too), so the check below counts exactly this run.
b1=$(stats_field "$p1" "s['endpoints']['$endpoint']['requests']") || exit 1
b2=$(stats_field "$p2" "s['endpoints']['$endpoint']['requests']") || exit 1

"$build/blast" -n "$N" -c 8 -t 2 -q --json "http://127.0.0.1:$hp$path" >"$tmp/blast.json"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: blast exit status $rc"; cat "$tmp/blast.json"; exit 1; }
python3 - "$tmp/blast.json" "$N" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
n = int(sys.argv[2])
print(f"blast: {r['responses']} responses, status {r['status']}, errors {r['errors_total']}, "
      f"{r['rps']:.0f} req/s through haproxy")
ok = r["responses"] == n and r["status"] == {"200": n} and r["errors_total"] == 0
sys.exit(0 if ok else 1)
PY

status=0
total=0
for p in "$p1" "$p2"; do
	read -r req ok200 other < <(stats_field "$p" \
		"s['endpoints']['$endpoint']['requests'], s['endpoints']['$endpoint']['responses'].get('200', 0), sum(v for k, v in s['endpoints']['$endpoint']['responses'].items() if k != '200')")
	base=$([ "$p" = "$p1" ] && echo "$b1" || echo "$b2")
	served=$((req - base))
	echo "instance :$p served $served $endpoint requests (200: $ok200, other statuses: $other)"
	[ "$served" -gt 0 ] || { echo "FAIL: instance :$p served nothing"; status=1; }
	[ "$other" -eq 0 ] || { echo "FAIL: instance :$p answered $other non-200"; status=1; }
	total=$((total + served))
done
if [ "$total" -eq "$N" ]; then
	echo "ok: the instances served $total = N requests"
else
	echo "FAIL: the instances served $total requests, sent $N"
	status=1
fi
exit $status
