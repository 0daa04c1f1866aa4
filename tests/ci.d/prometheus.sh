#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A real Prometheus scraping a loaded metricd, and the files shipped for it:
#  - promtool checks dist/prometheus/ (the recording and alerting rules,
#    the example prometheus.yml and cluster.yml) and runs the rules' unit tests
#    (tests/prometheus/metricd.test.yml);
#  - Debian's prometheus, on loopback, scrapes the built metricd every
#    second with those rules loaded while blast loads the four metric
#    endpoints; then the HTTP API (/api/v1/query) must show a request rate
#    for each, 0 heap allocations per request on the stack endpoints and
#    3 on the heap ones (the recording rule), and every rule healthy with
#    no alert firing;
#  - promtool check metrics passes the loaded metricd's /metrics (HELP and
#    TYPE, counters in _total, units in names);
#  - every metric name in dist/grafana/metricd.json's queries is one the
#    live /metrics exposes or the rules record from such names, and each
#    panel query returns data.
# Bounded: about half a minute; every wait has a deadline.
# Usage: tests/ci.d/prometheus.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: prometheus.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
command -v prometheus >/dev/null 2>&1 || missing_tool "prometheus not found (apt-get install prometheus)"
command -v promtool >/dev/null 2>&1 || missing_tool "promtool not found (apt-get install prometheus)"
command -v python3 >/dev/null 2>&1 || missing_tool "python3 not found"
for b in metricd blast; do
	[ -x "$build/$b" ] || { echo "FAIL: $build/$b is not built"; exit 1; }
done
prometheus --version 2>&1 | head -1
prom_dir=$top/dist/prometheus
rules=$prom_dir/metricd.rules.yml
alerts=$prom_dir/metricd.alerts.yml
dashboard=$top/dist/grafana/metricd.json
names=$top/tests/prometheus/promql_names.py
status=0
fail() { echo "FAIL: $*"; status=1; }

echo "--- promtool check rules, test rules, check config"
promtool check rules "$rules" "$alerts" || fail "promtool check rules"
promtool test rules "$top/tests/prometheus/metricd.test.yml" || fail "promtool test rules"
promtool check config "$prom_dir/prometheus.yml" || fail "promtool check config (example)"
promtool check config "$prom_dir/cluster.yml" || fail "promtool check config (cluster example)"

tmp=$(mktemp -d)
mpid= ppid=
cleanup() {
	[ -n "$ppid" ] && kill "$ppid" 2>/dev/null && wait "$ppid" 2>/dev/null
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: until COMMAND succeeds (a hang guard).
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "--- metricd"
"$build/metricd" --listen 127.0.0.1:0 --no-pin --workers 1 >"$tmp/metricd.log" 2>&1 &
mpid=$!
port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/metricd.log" 2>/dev/null | head -1; }
started() { [ -n "$(port)" ]; }
wait_for 30 started || { cat "$tmp/metricd.log"; echo "FAIL: metricd did not start"; exit 1; }
mport=$(port)
echo "metricd on 127.0.0.1:$mport"

echo "--- prometheus"
pport=$(free_port)
api=http://127.0.0.1:$pport
cat >"$tmp/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
  - $alerts
scrape_configs:
  - job_name: metricd
    static_configs:
      - targets: ["127.0.0.1:$mport"]
CONF
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config (test)"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
	--web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &
ppid=$!

# query EXPR: the API's answer as "LABELS VALUE" lines (one per series).
query() {
	python3 - "$api" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        res = json.load(r)
except OSError:
    sys.exit(1)
for s in res["data"]["result"]:
    m = s["metric"]
    print(m.get("endpoint", m.get("instance", "-")), s["value"][1])
PY
}
ready() { python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$api/-/ready" 2>/dev/null; }
wait_for 60 ready || { tail -20 "$tmp/prometheus.log"; echo "FAIL: prometheus did not become ready"; exit 1; }
scraped() { [ "$(query 'up{job="metricd"}')" = "127.0.0.1:$mport 1" ]; }
wait_for 30 scraped || { tail -20 "$tmp/prometheus.log"; echo "FAIL: prometheus did not scrape metricd"; exit 1; }
echo "ok: prometheus on $api scrapes metricd"

echo "--- load: blast -t1 -c4 -d6s, the four metric endpoints in turn"
for e in metric-stack stats-value metric-heap stats-pointer; do
	echo "http://127.0.0.1:$mport/$e?id={id}"
done >"$tmp/urls"
"$build/blast" -t1 -c4 -d6s -q --ids 1-100 --urls "$tmp/urls" >"$tmp/blast.out" 2>&1 ||
	{ cat "$tmp/blast.out"; fail "blast"; }
tail -5 "$tmp/blast.out"

# The last scrape that counts the whole load: Prometheus's count for
# /metric-heap equals metricd's own (nothing else requests it now).
heap_total=$(curl -s "http://127.0.0.1:$mport/metrics" |
	sed -n 's|^metricd_requests_total{endpoint="/metric-heap"} \([0-9]*\)$|\1|p')
caught_up() { [ "$(query 'metricd_requests_total{endpoint="/metric-heap"}')" = "/metric-heap $heap_total" ]; }
wait_for 30 caught_up || fail "prometheus never saw $heap_total /metric-heap requests"
# ... and a rule evaluation after it.
ratio_now() { query 'endpoint:metricd_heap_allocations_per_request:ratio_rate1m' >"$tmp/ratio" &&
	[ "$(wc -l <"$tmp/ratio")" -ge 4 ]; }
sleep 2.5
wait_for 30 ratio_now || fail "no allocations-per-request series for the four endpoints"
echo "heap allocations per request (recording rule):"
sed 's/^/  /' "$tmp/ratio"
for e in /metric-stack /stats-value; do
	awk -v e="$e" '$1 == e { found = 1; exit !($2 == 0) } END { if (!found) exit 1 }' "$tmp/ratio" ||
		fail "$e: allocations per request is not 0"
done
for e in /metric-heap /stats-pointer; do
	awk -v e="$e" '$1 == e { found = 1; d = $2 - 3; exit !(d < 1e-9 && d > -1e-9) } END { if (!found) exit 1 }' "$tmp/ratio" ||
		fail "$e: allocations per request is not 3"
done
echo "request rate by endpoint (recording rule endpoint:metricd_requests:rate1m):"
query 'endpoint:metricd_requests:rate1m' | tee "$tmp/rate" | sed 's/^/  /'
for e in /metric-stack /stats-value /metric-heap /stats-pointer; do
	awk -v e="$e" '$1 == e { found = 1; exit !($2 > 0) } END { if (!found) exit 1 }' "$tmp/rate" ||
		fail "$e: no request rate"
done

echo "--- rules loaded and healthy, no alert firing"
python3 - "$api" <<'PY' || fail "rules"
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/rules", timeout=5) as r:
    groups = json.load(r)["data"]["groups"]
bad = 0
rules = [r for g in groups for r in g["rules"]]
for r in rules:
    if r["health"] != "ok":
        print(f"  {r['name']}: health {r['health']}: {r.get('lastError')}")
        bad = 1
    if r["type"] == "alerting" and r["state"] != "inactive":
        print(f"  alert {r['name']} is {r['state']}")
        bad = 1
print(f"  {len(rules)} rules in {len(groups)} groups, "
      f"{sum(r['type'] == 'alerting' for r in rules)} alerts inactive" if not bad else "")
sys.exit(bad)
PY

echo "--- promtool check metrics on the loaded /metrics"
curl -s "http://127.0.0.1:$mport/metrics" >"$tmp/metrics.txt"
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/lint.out" 2>&1; then
	echo "ok: $(grep -c '^# TYPE' "$tmp/metrics.txt") families, promtool finds nothing to say"
else
	sed 's/^/  /' "$tmp/lint.out"
	fail "promtool check metrics"
fi

echo "--- the dashboard's queries against the live /metrics"
python3 "$names" "$dashboard" "$rules" "$tmp/metrics.txt" "$api" || fail "dashboard queries"
# The cross-check must be able to fail: a made-up name is caught.
python3 - "$dashboard" "$tmp/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][0]["targets"][0]["expr"] = "rate(metricd_no_such_total[1m])"
json.dump(d, open(sys.argv[2], "w"))
PY
if python3 "$names" "$tmp/bad.json" "$rules" "$tmp/metrics.txt" >"$tmp/bad.out" 2>&1; then
	fail "the cross-check passed a dashboard naming metricd_no_such_total"
else
	grep -q metricd_no_such_total "$tmp/bad.out" || fail "the cross-check failed without naming the unknown metric"
	echo "ok: a made-up metric name is caught"
fi

[ $status -eq 0 ] && echo "PASS: prometheus"
exit $status
