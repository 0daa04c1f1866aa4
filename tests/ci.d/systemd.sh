#!/usr/bin/env bash
# The systemd units as systemd itself reads them: `systemd-analyze verify`
# of the generated metricd.service and of metricd.socket (ExecStart pointed
# at the built binary, since verify checks it exists; the man page from the
# tree, since verify checks Documentation=), and the sandbox score of
# `systemd-analyze security --offline=true`, which must be 2.0 or lower.
# Usage: tests/ci.d/systemd.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: systemd.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
max_score=2.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (apt-get install systemd)"
	[ -n "${CI:-}" ] && { echo "FAIL: in CI a missing tool is a failure"; exit 1; }
	exit 77
fi
systemd-analyze --version | head -1

make -C "$build" -s dist/metricd.service || { echo "FAIL: cannot build dist/metricd.service"; exit 1; }
[ -x "$build/metricd" ] || { echo "FAIL: $build/metricd is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/man/man8"
sed "s|^ExecStart=[^ ]*/metricd |ExecStart=$build/metricd |" \
	"$build/dist/metricd.service" >"$tmp/units/metricd.service"
cp "$top/dist/metricd.socket" "$tmp/units/"
cp "$top/dist/metricd.8" "$tmp/man/man8/"
grep -q "^ExecStart=$build/metricd " "$tmp/units/metricd.service" ||
	{ echo "FAIL: no ExecStart=.../metricd line in the generated unit"; exit 1; }
status=0

echo "--- systemd-analyze verify metricd.service metricd.socket"
if MANPATH="$tmp/man" systemd-analyze verify \
	"$tmp/units/metricd.service" "$tmp/units/metricd.socket" >"$tmp/verify.out" 2>&1 &&
	! grep -q . "$tmp/verify.out"; then
	echo "ok: verify found nothing to report"
else
	cat "$tmp/verify.out"
	echo "FAIL: systemd-analyze verify"
	status=1
fi

echo "--- systemd-analyze security --offline=true metricd.service"
systemd-analyze security --offline=true --no-pager \
	"$tmp/units/metricd.service" >"$tmp/security.out" 2>&1
grep -v '^✓' "$tmp/security.out"
line=$(grep 'Overall exposure level' "$tmp/security.out" | tail -1)
score=$(printf '%s\n' "$line" | sed -n 's/.*: *\([0-9][0-9]*\.[0-9]\).*/\1/p')
if [ -z "$score" ]; then
	echo "FAIL: no 'Overall exposure level' line"
	status=1
elif awk -v s="$score" -v m="$max_score" 'BEGIN { exit !(s <= m) }'; then
	echo "ok: exposure $score <= $max_score"
else
	echo "FAIL: exposure $score > $max_score"
	status=1
fi
exit $status
