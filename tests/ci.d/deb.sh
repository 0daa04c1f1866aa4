#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package: `dpkg-buildpackage -us -uc -b` builds it from a copy
# of the tree in a temporary directory (DEB_BUILD_OPTIONS=nocheck: the
# suites already ran in this CI run), lintian reports no error (its other
# tags are printed), and the package installs and purges cleanly:
#   dpkg -i on this machine itself (CI runs as root on a throwaway Debian;
#   a chroot would need a second Debian, and dpkg --root an empty dpkg
#   database that cannot satisfy the dependencies), with services kept
#   from starting by policy-rc.d; then the installed metricd answers
#   --version and -t (also on the shipped example config), the units, the
#   logrotate file, the man pages and alloccount are where they belong,
#   and `dpkg -P metricd` leaves none of them, conffiles included.
# Skipped when run by hand without root (the build and lintian still
# run first); refuses to touch a metricd package it did not install.
# Usage: tests/ci.d/deb.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
for t in dpkg-buildpackage dh lintian; do
	command -v $t >/dev/null 2>&1 ||
		missing_tool "$t not found (apt-get install dpkg-dev debhelper lintian)"
done
[ -f "$top/debian/control" ] || { echo "FAIL: no debian/control"; exit 1; }
tmp=$(mktemp -d)
installed=no policy=no
cleanup() {
	[ $installed = yes ] && dpkg -P metricd >/dev/null 2>&1
	[ $policy = yes ] && rm -f /usr/sbin/policy-rc.d
	rm -rf "$tmp"
}
trap cleanup EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

echo "--- a copy of the tree"
mkdir -p "$tmp/metricd"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -co --exclude-standard -z | tar cf - --null -T -)
else
	tar cf - -C "$top" --exclude=./build-check --exclude='./build*' --exclude=./.git .
fi | tar xf - -C "$tmp/metricd" || { echo "FAIL: cannot copy the tree"; exit 1; }
version=$(cd "$tmp/metricd" && dpkg-parsechangelog -S Version)
echo "metricd $version"

echo "--- dpkg-buildpackage -us -uc -b"
start=$SECONDS
if ! (cd "$tmp/metricd" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
	tail -40 "$tmp/build.log"
	echo "FAIL: dpkg-buildpackage"
	exit 1
fi
deb=$tmp/metricd_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { ls "$tmp"; echo "FAIL: no $deb"; exit 1; }
echo "ok: built $(basename "$deb") in $((SECONDS - start)) s"
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$tmp/contents"
grep -E '\.la$|/allocbench$|/alloccount-report$' "$tmp/contents" | grep -v '^./usr/libexec/metricd/alloccount-report$' &&
	fail "the package holds a .la, allocbench, or alloccount-report outside libexec"

echo "--- lintian"
lintian -I --fail-on error "$tmp"/metricd_"${version}"_*.changes >"$tmp/lintian.out" 2>&1
lrc=$?
grep -v 'running with root privileges' "$tmp/lintian.out"
for s in E W I; do
	printf '%s: %s  ' "$s" "$(grep -c "^$s: " "$tmp/lintian.out")"
done
echo
[ $lrc -eq 0 ] && ! grep -q '^E: ' "$tmp/lintian.out" && echo "ok: lintian reports no error" ||
	fail "lintian reports errors (exit $lrc)"

if [ "$(id -u)" != 0 ]; then
	[ $status -eq 0 ] || exit $status
	skip "not root: the package was built and passed lintian, but is not installed"
fi
if dpkg-query -W -f='${Status}' metricd 2>/dev/null | grep -q installed; then
	echo "FAIL: a metricd package is already installed here; this check installs and purges its own"
	exit 1
fi

echo "--- dpkg -i"
# Services must not start here (no service manager, or not ours to use).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=yes
fi
installed=yes
dpkg -i "$deb" >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out"; fail "dpkg -i"; }
out=$(/usr/bin/metricd --version) && [ "$out" = "metricd ${version%%-*}" ] ||
	fail "metricd --version: '$out'"
out=$(/usr/bin/metricd -t 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] && printf '%s' "$out" | grep -q '/etc/metricd/metricd.conf' ||
	fail "metricd -t (exit $rc) does not pass or name /etc/metricd/metricd.conf"
out=$(/usr/bin/metricd -t --config /etc/metricd/metricd.conf.example 2>&1) ||
	fail "metricd -t on the shipped example: $out"
for f in /lib/systemd/system/metricd.service /lib/systemd/system/metricd@.service \
	/lib/systemd/system/metricd.socket /etc/logrotate.d/metricd /etc/default/metricd \
	/usr/share/man/man8/metricd.8.gz /usr/share/man/man1/blast.1.gz \
	/usr/share/man/man1/alloccount.1.gz /usr/share/doc/metricd/copyright \
	/usr/share/doc/metricd/examples/metricd.json /usr/bin/blast; do
	[ -e "$f" ] || fail "not installed: $f"
done
grep -qx 'ExecStartPre=/usr/bin/metricd -t $METRICD_OPTS' /lib/systemd/system/metricd.service ||
	fail "metricd.service does not run /usr/bin/metricd -t first"
/usr/bin/alloccount -q -- true || fail "alloccount -- true"
dpkg-query -W -f='${Conffiles}\n' metricd | awk 'NF { print $1 }' | sort >"$tmp/conffiles"
echo "conffiles: $(tr '\n' ' ' <"$tmp/conffiles")"
grep -qx /etc/default/metricd "$tmp/conffiles" || fail "/etc/default/metricd is not a conffile"
dpkg -L metricd | sort >"$tmp/files"

echo "--- dpkg -P metricd"
dpkg -P metricd >"$tmp/purge.out" 2>&1 || { cat "$tmp/purge.out"; fail "dpkg -P"; }
installed=no
left=$(while read -r f; do [ -f "$f" ] && echo "$f"; done <"$tmp/files")
[ -z "$left" ] || fail "left after dpkg -P: $left"
[ -e /etc/default/metricd ] && fail "/etc/default/metricd left after purge"
[ $status -eq 0 ] && echo "PASS: deb ($((SECONDS)) s)"
exit $status
