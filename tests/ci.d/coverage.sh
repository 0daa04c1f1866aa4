#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Line and branch coverage of the server (core/ workers/ queue/ http/) and
# of blast (tools/blast/): a build of its own with --enable-coverage, the
# whole `make check` in it, then gcovr.  Prints one row per file (lines and
# branches) and fails when a file is below its floor or when one of the
# paths tests/ci.d/coverage.py names (shutdown timeout, access-log ring
# full and reopen, pipeline-pause race, ...) never ran.
# Usage: tests/ci.d/coverage.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
# The coverage build goes next to BUILDDIR, in BUILDDIR-coverage.  Tests
# that fail in it are listed but not judged here: the -Werror build's
# `make check` judges them; here only what they executed counts.
set -u
build=$(cd "${1:?usage: coverage.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${build%/}-coverage
jobs=$(nproc 2>/dev/null || echo 2)
py=/usr/bin/python3

missing() {	# what, how to get it
	echo "SKIP: $1 not found: $2"
	[ -n "${CI:-}" ] && { echo "FAIL: in CI a missing tool is a failure"; exit 1; }
	exit 77
}
[ -x "$py" ] || missing python3 "apt-get install python3"
command -v gcov >/dev/null 2>&1 || missing gcov "apt-get install gcc"
"$py" -c 'import gcovr' 2>/dev/null || missing gcovr "apt-get install gcovr"

# The one out-of-tree build helper (a copy of the sources when the tree
# is configured in place).  Old counts go first: gcov adds to them.
echo "=== tools/build-tree $work/build --enable-coverage"
if ! "$top/tools/build-tree" --quiet "$work/build" --enable-coverage; then
	echo "FAIL: the coverage build does not build"
	exit 1
fi
src=$(sed -n 's/^abs_top_srcdir = //p' "$work/build/Makefile")
find "$work/build" -name '*.gcda' -delete
echo "=== make check"
t0=$(date +%s)
make -C "$work/build" -j"$jobs" check >"$work/check.out" 2>&1
echo "make check: $(( $(date +%s) - t0 )) s;" \
	$(sed -n 's/^# \(TOTAL\|PASS\|SKIP\|FAIL\|ERROR\): *\([0-9]*\)/\1 \2/p' "$work/check.out")
if grep -qE '^(FAIL|ERROR):' "$work/check.out"; then
	echo "note: tests that failed in the coverage build (judged by the -Werror build):"
	grep -E '^(FAIL|ERROR):' "$work/check.out" | sed 's/^/  /'
fi
# A skip names its reason (the test's log says why).
grep -E '^SKIP:' "$work/check.out" | while read -r _ t; do
	why=$(grep -m1 -iE '^SKIP|skip' "$work/build/${t%.*}.log" 2>/dev/null)
	echo "note: SKIP $t: ${why:-no reason given}"
done
# tools/check-all tallies every .trs under its build directory; these runs
# are this check's, not tests of their own (the logs stay).
find "$work/build" -name '*.trs' -delete

# gcovr 5.2 refuses to merge one source file compiled twice with different
# functions at a line (core/notify.c is built with and without libsystemd);
# gcovr 6 says --merge-mode-functions=separate.  Its victim program
# (tests/alloccount) is left out: thousands of generated lines, minutes of
# parsing, none of them ours.
echo "=== gcovr"
cd "$work/build" || exit 1
"$py" - "$src" >"$work/gcovr.out" 2>&1 <<'EOF'
import sys
import gcovr.merging
if hasattr(gcovr.merging, "DEFAULT_MERGE_OPTIONS"):
    gcovr.merging.DEFAULT_MERGE_OPTIONS.ignore_function_lineno = True
from gcovr.__main__ import main
src = sys.argv[1]
sys.argv = ["gcovr", "-r", src, "core", "http", "queue", "workers", "tools/blast", "tests",
            "--exclude-directories", r"(.*/)?tests/alloccount",
            "--filter", src + "/core/", "--filter", src + "/workers/",
            "--filter", src + "/queue/", "--filter", src + "/http/",
            "--filter", src + "/tools/blast/",
            "--json", "coverage.json"]
main()
EOF
rc=$?
if [ $rc -ne 0 ] || [ ! -s coverage.json ]; then
	tail -20 "$work/gcovr.out"
	echo "FAIL: gcovr exited $rc"
	exit 1
fi
"$py" "$top/tests/ci.d/coverage.py" coverage.json "$src"
