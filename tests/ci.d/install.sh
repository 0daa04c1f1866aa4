#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `make install DESTDIR=...` from the build directory puts every expected
# file where configure said, and nothing else: the user-facing programs
# (metricd, blast, alloccount), each with its man page, dated and versioned;
# alloccount.so without a libtool .la and the report program behind the
# alloccount command; the systemd units with their paths filled in; the
# /etc/default file with nothing set; the example config.  The installed
# metricd looks for its config under configure's sysconfdir.
# `make uninstall DESTDIR=...` leaves no file behind.  An
# /etc/default/metricd the admin changed survives reinstall and uninstall.
# Usage: tests/ci.d/install.sh BUILDDIR   (exit 0 pass, else fail)
set -u
build=$(cd "${1:?usage: install.sh BUILDDIR}" && pwd) || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/root"
status=0
fail() { echo "FAIL: $*"; status=1; }

# The install directories as make expands them.
printf 'print-%%:\n\t@echo $($*)\n' >"$tmp/print.mk"
var() { make -s -C "$build" -f Makefile -f "$tmp/print.mk" "print-$1"; }
bindir=$(var bindir) pkglibdir=$(var pkglibdir) mandir=$(var mandir)
pkglibexecdir=$(var pkglibexecdir) version=$(var VERSION) man_date=$(var MAN_DATE)
sysconfdir=$(var sysconfdir) unitdir=$(var systemdsystemunitdir)
units=yes     # configure --with-systemdsystemunitdir=no installs none
[ -z "$(var systemdsystemunit_DATA)" ] && units=no
echo "bindir=$bindir pkglibdir=$pkglibdir mandir=$mandir sysconfdir=$sysconfdir"
echo "units=$units unitdir=$unitdir"

expected=(
	"$bindir/metricd" "$bindir/blast" "$bindir/alloccount"
	"$pkglibdir/alloccount.so" "$pkglibexecdir/alloccount-report"
	"$mandir/man8/metricd.8" "$mandir/man1/blast.1" "$mandir/man1/alloccount.1"
	"$sysconfdir/default/metricd" "$sysconfdir/metricd/metricd.conf.example"
	"$sysconfdir/logrotate.d/metricd"
)
[ "$units" = yes ] && expected+=("$unitdir/metricd.service" "$unitdir/metricd@.service" "$unitdir/metricd.socket")

installed() { (cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort); }

echo "--- make install DESTDIR=$dest"
make -C "$build" install DESTDIR="$dest" >"$tmp/install.out" 2>&1 ||
	{ tail -30 "$tmp/install.out"; echo "FAIL: make install"; exit 1; }
installed | tee "$tmp/list"
for f in "${expected[@]}"; do
	[ -f "$dest$f" ] || fail "not installed: $f"
done
for f in $(cat "$tmp/list"); do
	printf '%s\n' "${expected[@]}" | grep -qxF "$f" || fail "installed but not expected: $f"
done
for p in "$dest$bindir"/*; do
	m=$(basename "$p")
	[ -f "$dest$mandir/man1/$m.1" ] || [ -f "$dest$mandir/man8/$m.8" ] ||
		fail "$bindir/$m has no man page"
done
for m in "$dest$mandir"/man*/*; do
	head -1 "$m" | grep -qF "\"$man_date\" \"metricd $version\"" ||
		fail "$(basename "$m"): .TH is not dated $man_date, version $version: $(head -1 "$m")"
	! grep -n '@[a-zA-Z_]*@' "$m" || fail "$(basename "$m"): unsubstituted @var@"
done

"$dest$bindir/metricd" --version >/dev/null 2>&1 || fail "installed metricd --version"
"$dest$bindir/blast" --version >/dev/null 2>&1 || fail "installed blast --version"
"$dest$bindir/metricd" --help | grep -qF "(default $sysconfdir/metricd/metricd.conf" ||
	fail "installed metricd does not look for $sysconfdir/metricd/metricd.conf"
grep -qF "$sysconfdir/metricd/metricd.conf" "$dest$mandir/man8/metricd.8" ||
	fail "metricd.8 does not name $sysconfdir/metricd/metricd.conf"
ALLOCCOUNT_SO="$dest$pkglibdir/alloccount.so" ALLOCCOUNT_REPORT_BIN="$dest$pkglibexecdir/alloccount-report" \
	"$dest$bindir/alloccount" -q -- true || fail "installed alloccount -- true"
ALLOCCOUNT_REPORT_BIN="$dest$pkglibexecdir/alloccount-report" \
	"$dest$bindir/alloccount" report --help 2>&1 | grep -q snapshot || fail "installed alloccount report --help"
grep -qF "$pkglibdir/alloccount.so" "$dest$bindir/alloccount" ||
	fail "alloccount does not preload $pkglibdir/alloccount.so"
if [ "$units" = yes ]; then
	svc="$dest$unitdir/metricd.service"
	grep -qxF "ExecStart=$bindir/metricd \$METRICD_OPTS" "$svc" ||
		fail "metricd.service: ExecStart is not $bindir/metricd"
	grep -qxF "EnvironmentFile=-$sysconfdir/default/metricd" "$svc" ||
		fail "metricd.service: EnvironmentFile is not $sysconfdir/default/metricd"
	! grep -n '@[a-z_]*@' "$svc" || fail "metricd.service: unsubstituted @var@"
fi
! grep -n '^[^#]' "$dest$sysconfdir/default/metricd" ||
	fail "$sysconfdir/default/metricd sets something (it must leave the config file in charge)"

echo "--- an admin's /etc/default/metricd is kept"
def="$dest$sysconfdir/default/metricd"
echo 'METRICD_OPTS=--workers 2' >"$def"
make -C "$build" install DESTDIR="$dest" >"$tmp/install2.out" 2>&1 || fail "second make install"
grep -qx 'METRICD_OPTS=--workers 2' "$def" || fail "make install replaced the admin's $def"
make -C "$build" uninstall DESTDIR="$dest" >"$tmp/uninstall1.out" 2>&1 || fail "make uninstall"
[ -f "$def" ] || fail "make uninstall removed the admin's $def"
left=$(installed)
[ "$left" = "$sysconfdir/default/metricd" ] || fail "after uninstall, expected only the admin's file, found: $left"
rm -f "$def"

echo "--- make install, make uninstall DESTDIR=$dest"
make -C "$build" install DESTDIR="$dest" >"$tmp/install3.out" 2>&1 || fail "third make install"
make -C "$build" uninstall DESTDIR="$dest" >"$tmp/uninstall.out" 2>&1 ||
	{ tail -30 "$tmp/uninstall.out"; fail "make uninstall"; }
left=$(installed)
if [ -n "$left" ]; then
	echo "$left"
	fail "files left after make uninstall"
else
	echo "ok: no file left"
fi
[ $status -eq 0 ] && echo "ok: install and uninstall"
exit $status
