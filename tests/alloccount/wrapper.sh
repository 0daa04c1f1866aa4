#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The alloccount wrapper from the build tree (ALLOCCOUNT_SO and
# ALLOCCOUNT_REPORT_BIN point it at the built interposer and report): it
# preloads the interposer, prints the summary at exit, keeps the counters
# in -o FILE for 'alloccount report', passes the program's exit status
# through, and refuses bad usage with 2.  Runs from the build directory.
set -u
victim=./tests/alloccount/victim
ALLOCCOUNT_SO=$PWD/tools/alloccount/.libs/alloccount.so
ALLOCCOUNT_REPORT_BIN=$PWD/alloccount-report
export ALLOCCOUNT_SO ALLOCCOUNT_REPORT_BIN
if grep -q -e __asan_init -e __tsan_init "$victim" 2>/dev/null; then
	echo "SKIP: sanitizer build: an interposer cannot share the process with a sanitizer's allocator"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alloccount-wrapper.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok - $*"; }

# victim sites: 3000 malloc + free at distinct call sites after "go".
printf 'go\nquit\n' | ./tools/alloccount/alloccount -o "$tmp/v.ac" -- "$victim" sites \
	>"$tmp/out" 2>"$tmp/err" || fail "alloccount -- victim sites: exit $?"
grep -Eq '^alloccount: +malloc +[0-9]{4,}' "$tmp/err" ||
	{ cat "$tmp/err"; fail "no summary with the 3000 mallocs at exit"; }
ok "the summary at exit counts the mallocs"
./tools/alloccount/alloccount report "$tmp/v.ac" --json >"$tmp/json" ||
	fail "alloccount report FILE --json"
grep -q '"malloc"' "$tmp/json" || fail "the report has no malloc count"
ok "alloccount report reads the -o file"

printf 'go\nquit\n' | ./tools/alloccount/alloccount -q -- "$victim" sites >/dev/null 2>"$tmp/err" ||
	fail "alloccount -q"
! grep -q '^alloccount:' "$tmp/err" || fail "-q still printed a summary"
ok "-q prints no summary"

./tools/alloccount/alloccount -q -- sh -c 'exit 7'
[ $? -eq 7 ] || fail "the program's exit status is not passed through"
ok "exit status passed through"
./tools/alloccount/alloccount -z true 2>/dev/null
[ $? -eq 2 ] || fail "an unknown option does not exit 2"
./tools/alloccount/alloccount 2>/dev/null
[ $? -eq 2 ] || fail "no command does not exit 2"
./tools/alloccount/alloccount --version | grep -q '^alloccount (metricd) ' || fail "--version"
ok "usage errors exit 2; --version"
