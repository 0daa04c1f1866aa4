#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The logrotate file: `make install DESTDIR=...` puts it in
# $(sysconfdir)/logrotate.d/metricd; `logrotate -d` (debug: reads the
# file, changes nothing) accepts it; and a real rotation, by the same
# file with the log directory moved into a temporary one and its
# postrotate sending SIGHUP to a running metricd instead of going through
# systemctl, leaves the lines logged before it in access.log.1 and those
# after it in a new access.log that metricd reopened by itself.
# Usage: tests/ci.d/logrotate.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: logrotate.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
command -v logrotate >/dev/null 2>&1 || missing_tool "logrotate not found (apt-get install logrotate)"
command -v curl >/dev/null 2>&1 || missing_tool "curl not found (apt-get install curl)"
[ -x "$build/metricd" ] || { echo "FAIL: $build/metricd is not built"; exit 1; }
tmp=$(mktemp -d)
mpid=
cleanup() {
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
wait_for() {	# SECONDS COMMAND...: until COMMAND succeeds (a hang guard)
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

printf 'print-%%:\n\t@echo $($*)\n' >"$tmp/print.mk"
sysconfdir=$(make -s -C "$build" -f Makefile -f "$tmp/print.mk" print-sysconfdir)
echo "--- make install DESTDIR=$tmp/root"
make -C "$build" install DESTDIR="$tmp/root" >"$tmp/install.out" 2>&1 ||
	{ tail -20 "$tmp/install.out"; echo "FAIL: make install"; exit 1; }
conf=$tmp/root$sysconfdir/logrotate.d/metricd
[ -f "$conf" ] || { echo "FAIL: $sysconfdir/logrotate.d/metricd not installed"; exit 1; }
cmp -s "$conf" "$top/dist/logrotate/metricd" || fail "the installed file is not dist/logrotate/metricd"

echo "--- logrotate -d $sysconfdir/logrotate.d/metricd"
logrotate -d -s "$tmp/state.d" "$conf" >"$tmp/debug.out" 2>&1 ||
	{ cat "$tmp/debug.out"; fail "logrotate -d exits $?"; }
grep -i 'error' "$tmp/debug.out" && fail "logrotate -d reports an error"
grep -q 'rotating pattern: /var/log/metricd/\*\.log /var/log/metricd/\*/\*\.log' "$tmp/debug.out" ||
	{ cat "$tmp/debug.out"; fail "logrotate -d does not read the patterns"; }
[ $status -eq 0 ] && echo "ok: logrotate -d reads the file without an error"

echo "--- a real rotation of a running metricd's access log"
mkdir -p "$tmp/log"
"$build/metricd" --listen 127.0.0.1:0 --no-pin --workers 1 \
	--access-log "$tmp/log/access.log" >"$tmp/metricd.log" 2>&1 &
mpid=$!
port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/metricd.log" 2>/dev/null | head -1; }
started() { [ -n "$(port)" ]; }
wait_for 30 started || { cat "$tmp/metricd.log"; echo "FAIL: metricd did not start"; exit 1; }
base=http://127.0.0.1:$(port)
lines() { [ -f "$1" ] && [ "$(grep -c "$2" "$1")" -eq "$3" ]; }
for i in 1 2 3; do curl -s -o /dev/null "$base/metric-stack?id=$i"; done
wait_for 30 lines "$tmp/log/access.log" 'metric-stack' 3 || fail "3 lines before the rotation"
# The shipped file, on the temporary directory, with a SIGHUP instead of
# systemctl (no systemd here); everything else as shipped.
sed -e "s|/var/log/metricd|$tmp/log|g" \
	-e "/^[[:space:]]*postrotate/,/^[[:space:]]*endscript/{/postrotate\|endscript/!d}" \
	-e "s|^\([[:space:]]*\)postrotate|&\n\1\1kill -HUP $mpid|" "$conf" >"$tmp/rotate.conf"
grep -q "kill -HUP $mpid" "$tmp/rotate.conf" || { cat "$tmp/rotate.conf"; fail "could not point postrotate at metricd"; }
logrotate -f -v -s "$tmp/state" "$tmp/rotate.conf" >"$tmp/rotate.out" 2>&1 ||
	{ cat "$tmp/rotate.out"; fail "logrotate -f exits $?"; }
for i in 4 5; do curl -s -o /dev/null "$base/metric-heap?id=$i"; done
wait_for 30 lines "$tmp/log/access.log" 'metric-heap' 2 ||
	fail "the 2 requests after the rotation are not in a new access.log"
lines "$tmp/log/access.log.1" 'metric-stack' 3 || fail "access.log.1 does not hold the 3 earlier lines"
lines "$tmp/log/access.log.1" 'metric-heap' 0 || fail "lines after the rotation went to access.log.1"
grep -q 'reloaded' "$tmp/metricd.log" || fail "metricd did not log the reload"
ls -l "$tmp/log"
kill "$mpid"; wait "$mpid"; rc=$?; mpid=
[ $rc -eq 0 ] || fail "metricd exited $rc on SIGTERM"
[ $status -eq 0 ] && echo "PASS: logrotate"
exit $status
