#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd units as systemd itself reads them: `systemd-analyze verify`
# of the generated metricd.service, of an instance of the template
# metricd@.service (copied as metricd@test.service) and of metricd.socket (ExecStart=,
# ExecStartPre= and ExecReload= pointed at the built binary, since verify
# checks it exists; the man page from the
# tree, since verify checks Documentation=), and the sandbox score of
# `systemd-analyze security --offline=true`, which must be 2.0 or lower for
# both services.  The instance must read its own config file.
# Usage: tests/ci.d/systemd.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: systemd.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
max_score=2.0

command -v systemd-analyze >/dev/null 2>&1 ||
	missing_tool "systemd-analyze not found (apt-get install systemd)"
# verify checks Documentation=man:metricd(8) with man -w
command -v man >/dev/null 2>&1 ||
	missing_tool "man not found, which systemd-analyze verify needs for Documentation= (apt-get install man-db)"
systemd-analyze --version | head -1

make -C "$build" -s dist/metricd.service dist/metricd@.service dist/metricd.8 ||
	{ echo "FAIL: cannot build the units and dist/metricd.8"; exit 1; }
[ -x "$build/metricd" ] || { echo "FAIL: $build/metricd is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/man/man8"
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/metricd |\1$build/metricd |" \
	"$build/dist/metricd.service" >"$tmp/units/metricd.service"
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/metricd |\1$build/metricd |" \
	"$build/dist/metricd@.service" >"$tmp/units/metricd@test.service"
cp "$top/dist/metricd.socket" "$tmp/units/"
cp "$build/dist/metricd.8" "$tmp/man/man8/"
grep -q "^ExecStart=$build/metricd " "$tmp/units/metricd.service" ||
	{ echo "FAIL: no ExecStart=.../metricd line in the generated unit"; exit 1; }
status=0
sysconfdir=$(sed -n 's|^EnvironmentFile=-\(.*\)/default/metricd$|\1|p' "$tmp/units/metricd.service")
for exec in ExecStartPre ExecStart ExecReload; do
	grep -qF "$exec=$build/metricd $([ $exec = ExecStart ] || echo '-t ')--config $sysconfdir/metricd/%i.conf \$METRICD_OPTS" \
		"$tmp/units/metricd@test.service" ||
		{ echo "FAIL: metricd@.service: $exec does not read $sysconfdir/metricd/%i.conf"; status=1; }
done
grep -qx 'LogsDirectory=metricd/%i' "$tmp/units/metricd@test.service" ||
	{ echo "FAIL: metricd@.service: LogsDirectory= is not metricd/%i"; status=1; }

echo "--- systemd-analyze verify metricd.service metricd@test.service metricd.socket"
if MANPATH="$tmp/man" systemd-analyze verify "$tmp/units/metricd.service" \
	"$tmp/units/metricd@test.service" "$tmp/units/metricd.socket" >"$tmp/verify.out" 2>&1 &&
	! grep -q . "$tmp/verify.out"; then
	echo "ok: verify found nothing to report"
else
	cat "$tmp/verify.out"
	echo "FAIL: systemd-analyze verify"
	status=1
fi

for unit in metricd.service metricd@test.service; do
	echo "--- systemd-analyze security --offline=true $unit"
	systemd-analyze security --offline=true --no-pager \
		"$tmp/units/$unit" >"$tmp/security.out" 2>&1
	grep -v '^✓' "$tmp/security.out"
	line=$(grep 'Overall exposure level' "$tmp/security.out" | tail -1)
	score=$(printf '%s\n' "$line" | sed -n 's/.*: *\([0-9][0-9]*\.[0-9]\).*/\1/p')
	if [ -z "$score" ]; then
		echo "FAIL: $unit: no 'Overall exposure level' line"
		status=1
	elif awk -v s="$score" -v m="$max_score" 'BEGIN { exit !(s <= m) }'; then
		echo "ok: $unit: exposure $score <= $max_score"
	else
		echo "FAIL: $unit: exposure $score > $max_score"
		status=1
	fi
done
exit $status
