#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of the blast binary: exit codes and messages, --json,
# side-by-side output, --csv-series, --hdr-log, progress lines and the live
# view, https, Unix sockets, URL lists, merge and Ctrl-C.  Runs from the
# build directory (automake's test harness does that); everything stays on
# 127.0.0.1.  Counts are exact (-n), never "about so many per second";
# waits poll for a state, with deadlines only against hangs.
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

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (the
# 30 s deadline only guards against a hang; it takes milliseconds)
wait_for() {
	i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		[ $i -lt 600 ] || fail "timed out waiting for '$2' in $1"
		sleep 0.05
		i=$((i + 1))
	done
}
# start_server ARGS...: sets PORT and SPID
start_server() {
	: > "$tmp/srv.out"
	"$STALL" "$@" > "$tmp/srv.out" &
	SPID=$!
	pids="$pids $SPID"
	wait_for "$tmp/srv.out" '^[0-9]'
	PORT=$(head -n 1 "$tmp/srv.out")
}
# json_field FILE NAME: the first integer value of "NAME": in FILE
json_field() {
	sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -n 1
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
expect_exit 2 "invalid --ids" $BLAST --ids 9-1 "http://127.0.0.1/{id}"
expect_exit 2 "cannot open '/nonexistent/body'" $BLAST -D /nonexistent/body http://127.0.0.1/
expect_exit 2 "cannot read '/'" $BLAST --data-file / http://127.0.0.1/
expect_exit 2 "cannot open '/nonexistent/list'" $BLAST --urls /nonexistent/list
echo http://127.0.0.1/ > "$tmp/one"
expect_exit 2 "either --urls FILE or URLs" $BLAST --urls "$tmp/one" http://127.0.0.1/

# A port nobody listens on: the server's, after it is gone.
start_server
DEAD=$PORT
stop_server
expect_exit 2 "Connection refused" $BLAST -d 1s "http://127.0.0.1:$DEAD/"
expect_exit 2 "cannot connect" $BLAST -d 1s "http://[::1]:$DEAD/"
expect_exit 2 "unix:$tmp/none.sock" $BLAST --unix-socket "$tmp/none.sock" http://x/

# Exact counts, JSON, and exactly what the server saw.
start_server
URL="http://127.0.0.1:$PORT"
$BLAST -t1 -c2 -n 500 --json "$URL/a" > "$tmp/a.json" || fail "json run"
grep -q '"responses": 500,' "$tmp/a.json" || fail "json: responses != 500"
grep -q '"status": {"200": 500}' "$tmp/a.json" || fail "json: status counts"
grep -q '"buckets": \[\[' "$tmp/a.json" || fail "json: no histogram buckets"
$BLAST -t2 -c4 --pipeline 8 -n 300 --json "$URL/a" > "$tmp/b.json" || fail "json run 2"
ok "--json"

# Two URLs side by side; stdout is not a terminal: no live view on it.
$BLAST -t1 -c2 -n 200 "$URL/metric-heap?id=1" "$URL/metric-stack?id=1" > "$tmp/side.txt" ||
	fail "side by side run"
grep -q '#2/#1' "$tmp/side.txt" || fail "no ratio column"
grep -q '^  #2 http://127.0.0.1:[0-9]*/metric-stack?id=1$' "$tmp/side.txt" || fail "no URL legend"
grep -q '^responses  *200  *200  *1.00x$' "$tmp/side.txt" || fail "responses row"
if grep -q "$(printf '\033')" "$tmp/side.txt"; then fail "terminal codes on a pipe"; fi
ok "side by side"

# Method, headers, a body with {id}, and a URL list.
$BLAST -q -t1 -c1 -n 10 -m PUT -H 'X-A: 1' --data '{"id":{id}}' --ids 1-10 "$URL/i/{id}" \
	> "$tmp/put.txt" || fail "PUT run"
grep -q '^  200  *10$' "$tmp/put.txt" || fail "PUT: 10 x 200"
printf 'http://127.0.0.1:%s/x\n# a comment\n\nhttp://127.0.0.1:%s/y\n' "$PORT" "$PORT" > "$tmp/urls"
$BLAST -q -t1 -c2 -n 30 --urls "$tmp/urls" > "$tmp/list.txt" || fail "--urls run"
grep -q "^  #1 $tmp/urls (2 URLs)$" "$tmp/list.txt" || fail "--urls: legend"
grep -q '^responses  *30$' "$tmp/list.txt" || fail "--urls: responses"
printf 'http://127.0.0.1:%s/x\nhttp://127.0.0.1:%s/a b\n' "$PORT" "$PORT" > "$tmp/badurls"
expect_exit 2 "URL 2: bad URL" $BLAST --urls "$tmp/badurls"
ok "method, headers, data, --ids, --urls"

stop_server
want=$((500 + 300 + 200 + 200 + 10 + 30))
[ "$SERVED" -eq "$want" ] || fail "server saw $SERVED requests, want exactly $want"

# One CSV row and one HdrHistogram interval per second of a 2 s run --
# not a third, empty one -- and the rows add up to the responses.
start_server
$BLAST -q -t1 -c2 -R 200 -d 2s --csv-series "$tmp/s.csv" --hdr-log "$tmp/s.hlog" --json \
	"http://127.0.0.1:$PORT/" > "$tmp/s.json" || fail "csv run"
head -n 1 "$tmp/s.csv" | grep -q '^url,second,requests,errors,p50_ms,p99_ms$' || fail "csv header"
rows=$(tail -n +2 "$tmp/s.csv" | wc -l)
[ "$rows" -eq 2 ] || fail "csv: $rows rows for 2 s, want 2"
sum=$(tail -n +2 "$tmp/s.csv" | awk -F, '{ n += $3 } END { print n }')
[ "$sum" -eq "$(json_field "$tmp/s.json" responses)" ] || fail "csv: rows add up to $sum"
[ "$(grep -c '^Tag=url1,' "$tmp/s.hlog")" -eq 2 ] || fail "hdr log: intervals"
grep -q '^#\[StartTime: ' "$tmp/s.hlog" || fail "hdr log: no StartTime"
grep -q '^Tag=url1,1.000,1.000,[0-9.]*,HISTF' "$tmp/s.hlog" || fail "hdr log: second interval"
ok "--csv-series, --hdr-log"
expect_exit 2 "cannot write" $BLAST -n 1 --hdr-log /nonexistent/x.hlog "http://127.0.0.1:$PORT/"

# Off a terminal: one progress line per second on stderr, stdout clean;
# a 1.5 s run has two (1 s, and the last half second).  -q: none.
$BLAST -t1 -c2 -d 1500ms --histogram "http://127.0.0.1:$PORT/" > "$tmp/p.out" 2> "$tmp/p.err" ||
	fail "progress run"
[ "$(grep -c '^blast: .*req/s  errors' "$tmp/p.err")" -eq 2 ] || fail "progress lines: $(cat "$tmp/p.err")"
grep -q 'req/s' "$tmp/p.out" && fail "progress line on stdout"
grep -q '^latency histogram #1$' "$tmp/p.out" || fail "--histogram: no chart"
$BLAST -q -t1 -c2 -d 1500ms "http://127.0.0.1:$PORT/" > /dev/null 2> "$tmp/q.err"
[ -s "$tmp/q.err" ] && fail "progress despite --quiet"
stop_server
ok "progress lines, --histogram"

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

# A Unix socket: the URL gives Host and path.
start_server --unix "$tmp/s.sock"
$BLAST -q -t2 -c4 -n 400 --json --unix-socket "$tmp/s.sock" http://app.local/u > "$tmp/u.json" ||
	fail "unix socket run"
[ "$(json_field "$tmp/u.json" responses)" -eq 400 ] || fail "unix socket: responses"
stop_server
[ "$SERVED" -eq 400 ] || fail "unix socket: server saw $SERVED"
ok "--unix-socket"

# https: refused without trust, accepted with --insecure or the
# certificate in SSL_CERT_FILE; sessions resumed across reconnects.
if $BLAST --version | grep -q 'https through OpenSSL'; then
	start_server --tls --cert-out "$tmp/cert.pem" --mode close
	expect_exit 2 "certificate verify failed" $BLAST -n 1 "https://localhost:$PORT/"
	$BLAST -q -t1 -c1 -n 20 -k --json "https://127.0.0.1:$PORT/" > "$tmp/t.json" || fail "https -k"
	[ "$(json_field "$tmp/t.json" responses)" -eq 20 ] || fail "https: responses"
	[ "$(json_field "$tmp/t.json" tls_resumed)" -eq 19 ] || fail "https: not resumed"
	SSL_CERT_FILE="$tmp/cert.pem" $BLAST -q -t1 -c1 -n 5 "https://localhost:$PORT/" > "$tmp/t.txt" ||
		fail "https with the certificate trusted"
	grep -q "^TLS handshakes  *5$" "$tmp/t.txt" || fail "https: handshakes row: $(cat "$tmp/t.txt")"
	stop_server
	ok "https"
else
	[ "${CI:-}" = true ] && fail "https: blast was built without OpenSSL"
	echo "# SKIP https: blast was built without OpenSSL (apt-get install libssl-dev)"
fi

# Ctrl-C: stops, still reports, exit 130.  The signal goes once the
# first progress line shows the run is under way.
start_server
$BLAST -t1 -c2 -d 30s "http://127.0.0.1:$PORT/" > "$tmp/int.txt" 2> "$tmp/int.err" &
BPID=$!
wait_for "$tmp/int.err" 'req/s'
kill -INT "$BPID"
wait "$BPID"
rc=$?
[ "$rc" -eq 130 ] || fail "Ctrl-C: exit $rc, want 130"
grep -q 'interrupted after' "$tmp/int.txt" || fail "Ctrl-C: no report"
grep -q '^  200 ' "$tmp/int.txt" || fail "Ctrl-C: no status counts"
stop_server
ok "Ctrl-C"

# On a terminal: the live view, redrawn in place and erased before the
# report; nothing with -q.  Needs script(1) for a terminal.
if command -v script > /dev/null 2>&1; then
	start_server
	script -qec "$BLAST -t1 -c2 -d 1500ms http://127.0.0.1:$PORT/" "$tmp/tty.txt" > /dev/null 2>&1 ||
		fail "tty run"
	grep -q 'latency so far: p50' "$tmp/tty.txt" || fail "tty: no live view"
	grep -q "$(printf '\033')\[J" "$tmp/tty.txt" || fail "tty: view not redrawn in place"
	grep -q '^responses ' "$tmp/tty.txt" || fail "tty: no report"
	script -qec "$BLAST -q -t1 -c2 -d 1500ms http://127.0.0.1:$PORT/" "$tmp/tty.txt" > /dev/null 2>&1
	grep -q 'latency so far' "$tmp/tty.txt" && fail "tty: live view despite --quiet"
	stop_server
	ok "live view"
else
	[ "${CI:-}" = true ] && fail "live view: script(1) is missing (apt-get install bsdutils)"
	echo "# SKIP live view: script(1) is missing (apt-get install bsdutils)"
fi
exit 0
