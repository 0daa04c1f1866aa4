#!/bin/sh
# End-to-end tests of the blast binary: exit codes and messages, --json,
# side-by-side output, --csv-series, merge and Ctrl-C.  Runs from the build
# directory (automake's test harness does that); everything stays on
# 127.0.0.1 and is bounded in time.
set -u
BLAST=./blast
STALL=./tests/blast/stallserver
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blast-cli.XXXXXX") || exit 99
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	exit 1
}
ok() { echo "ok - $*"; }

# start_server ARGS...: sets PORT and SPID
start_server() {
	: > "$tmp/srv.out"
	"$STALL" "$@" > "$tmp/srv.out" &
	SPID=$!
	pids="$pids $SPID"
	i=0
	while [ ! -s "$tmp/srv.out" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	PORT=$(head -n 1 "$tmp/srv.out")
	[ -n "$PORT" ] || fail "stall server did not start"
}
# stop_server: sets SERVED, the number of requests the server processed
stop_server() {
	kill -TERM "$SPID"
	wait "$SPID"
	SERVED=$(sed -n 's/^requests //p' "$tmp/srv.out")
}
# expect_exit CODE PATTERN CMD...: exit status and a stderr message
expect_exit() {
	want=$1 pat=$2
	shift 2
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want ($(cat "$tmp/err"))"
	grep -q -- "$pat" "$tmp/err" "$tmp/out" || fail "$*: no '$pat' in output: $(cat "$tmp/err")"
	ok "$* -> $want"
}

[ -x "$BLAST" ] && [ -x "$STALL" ] || fail "run from the build directory after make"

expect_exit 0 "Usage:" $BLAST --help
expect_exit 0 "blast " $BLAST --version
expect_exit 2 "no URL" $BLAST
expect_exit 2 "bad URL" $BLAST ftp://127.0.0.1/
expect_exit 2 "must start with http:// or https://" $BLAST ftp://127.0.0.1/
expect_exit 2 "bad port" $BLAST http://127.0.0.1:99999/
expect_exit 2 "Try 'blast --help'" $BLAST --frobnicate http://127.0.0.1/
expect_exit 2 "invalid --duration" $BLAST -d soon http://127.0.0.1/
expect_exit 2 "cannot resolve" $BLAST -d 1s http://no-such-host.invalid/

# A port nobody listens on: the server's, after it is gone.
start_server
DEAD=$PORT
stop_server
expect_exit 2 "Connection refused" $BLAST -d 1s "http://127.0.0.1:$DEAD/"
expect_exit 2 "cannot connect" $BLAST -d 1s "http://[::1]:$DEAD/"

# Exact count, JSON, and what the server saw.
start_server
URL="http://127.0.0.1:$PORT"
$BLAST -t1 -c2 -n 500 --json "$URL/a" > "$tmp/a.json" || fail "json run"
grep -q '"responses": 500,' "$tmp/a.json" || fail "json: responses != 500"
grep -q '"status": {"200": 500}' "$tmp/a.json" || fail "json: status counts"
grep -q '"buckets": \[\[' "$tmp/a.json" || fail "json: no histogram buckets"
$BLAST -t2 -c4 --pipeline 8 -n 300 --json "$URL/a" > "$tmp/b.json" || fail "json run 2"
ok "--json"

# Two URLs side by side; stdout is not a terminal: no progress line.
$BLAST -t1 -c2 -n 200 "$URL/metric-heap?id=1" "$URL/metric-stack?id=1" > "$tmp/side.txt" ||
	fail "side by side run"
grep -q '#2/#1' "$tmp/side.txt" || fail "no ratio column"
grep -q '^  #2 http://127.0.0.1:[0-9]*/metric-stack?id=1$' "$tmp/side.txt" || fail "no URL legend"
grep -q '^responses  *200  *200  *1.00x$' "$tmp/side.txt" || fail "responses row"
if grep -q "$(printf '\r')" "$tmp/side.txt"; then fail "progress line on a pipe"; fi
ok "side by side"

# One CSV row per second.
$BLAST -t1 -c2 -R 200 -d 2s --csv-series "$tmp/s.csv" -q "$URL/" > /dev/null || fail "csv run"
head -n 1 "$tmp/s.csv" | grep -q '^url,second,requests,errors,p50_ms,p99_ms$' || fail "csv header"
rows=$(tail -n +2 "$tmp/s.csv" | grep -c "^$URL/,")
[ "$rows" -ge 2 ] && [ "$rows" -le 3 ] || fail "csv: $rows rows for 2 s"
first=$(sed -n '2p' "$tmp/s.csv" | cut -d, -f3)
[ "$first" -ge 180 ] && [ "$first" -le 220 ] || fail "csv: $first requests in second 1, want ~200"
ok "--csv-series"

stop_server
want=$((500 + 300 + 400 + 400))
[ "$SERVED" -ge "$want" ] || fail "server saw $SERVED requests, want >= $want"

# Merge: histograms and counts add.
$BLAST merge --json "$tmp/a.json" "$tmp/b.json" > "$tmp/m.json" || fail "merge"
grep -q '"responses": 800,' "$tmp/m.json" || fail "merge: responses != 800"
grep -q '"merged": 2' "$tmp/m.json" || fail "merge: merged count"
$BLAST merge "$tmp/a.json" "$tmp/b.json" | grep -q '(merged)' || fail "merge: human output"
echo '{"not": "blast"}' > "$tmp/bad.json"
expect_exit 2 "not a blast" $BLAST merge "$tmp/a.json" "$tmp/bad.json"
ok "merge"

# 404s are counted as a status, not as errors.
start_server --status 404
$BLAST -t1 -c2 -n 100 --json "http://127.0.0.1:$PORT/" > "$tmp/404.json" || fail "404 run"
grep -q '"status": {"404": 100}' "$tmp/404.json" || fail "404 not counted"
grep -q '"errors_total": 0,' "$tmp/404.json" || fail "404 counted as error"
stop_server
ok "404"

# Ctrl-C: stops, still reports, exit 130.
start_server
$BLAST -t1 -c2 -d 30s "http://127.0.0.1:$PORT/" > "$tmp/int.txt" 2>&1 &
BPID=$!
sleep 1
kill -INT "$BPID"
wait "$BPID"
rc=$?
[ "$rc" -eq 130 ] || fail "Ctrl-C: exit $rc, want 130"
grep -q 'interrupted after' "$tmp/int.txt" || fail "Ctrl-C: no report"
grep -q '^  200 ' "$tmp/int.txt" || fail "Ctrl-C: no status counts"
stop_server
ok "Ctrl-C"

# On a terminal: one live progress line per second (needs script(1)).
if command -v script > /dev/null 2>&1; then
	start_server
	script -qec "$BLAST -t1 -c2 -d 2500ms http://127.0.0.1:$PORT/" "$tmp/tty.txt" > /dev/null 2>&1 ||
		fail "tty run"
	n=$(tr '\r' '\n' < "$tmp/tty.txt" | grep -c 'req/s  p99 so far')
	[ "$n" -ge 2 ] || fail "tty: $n progress updates"
	script -qec "$BLAST -q -t1 -c2 -d 1500ms http://127.0.0.1:$PORT/" "$tmp/tty.txt" > /dev/null 2>&1
	grep -q 'req/s  p99 so far' "$tmp/tty.txt" && fail "tty: progress despite --quiet"
	stop_server
	ok "progress line"
fi
exit 0
