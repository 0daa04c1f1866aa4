#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# libFuzzer over framing + routing + response writing (tests/fuzz): a build
# of its own with CC=clang --enable-fuzz, then FUZZ_SECONDS (default 60) of
# fuzzing starting from the committed corpus.  Fails on any crash, leak,
# timeout, broken invariant or sanitizer report ("runtime error" in the
# log included), and prints the input that caused it (it is also kept in
# the build directory as crash-*).
# Usage: tests/ci.d/fuzz.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
# The fuzz build goes next to BUILDDIR, in BUILDDIR/../fuzz.
set -u
build=$(cd "${1:?usage: fuzz.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
seconds=${FUZZ_SECONDS:-60}
work=$(dirname "$build")/fuzz

command -v clang >/dev/null 2>&1 ||
	missing_tool "clang not found: apt-get install clang libclang-rt-14-dev"
# The build is kept between runs (tools/build-tree rebuilds what changed);
# the corpus the fuzzer grows and its findings are not.
rm -rf "$work/corpus" "$work"/build/crash-* "$work"/build/leak-* \
	"$work"/build/timeout-* "$work"/build/oom-*
mkdir -p "$work/corpus"

echo "=== CC=clang --enable-fuzz: tests/fuzz/fuzz_framing (in $work/build)"
"$top/tools/build-tree" --quiet "$work/build" CC=clang --enable-fuzz -- tests/fuzz/fuzz_framing ||
	{ echo "FAIL: cannot build tests/fuzz/fuzz_framing"; exit 1; }

echo "=== fuzz_framing for $seconds s over tests/fuzz/corpus"
cd "$work/build" || exit 1
./tests/fuzz/fuzz_framing -max_total_time="$seconds" -timeout=10 -max_len=8192 \
	-dict="$top/tests/fuzz/http.dict" -print_final_stats=1 \
	-artifact_prefix="$work/build/" \
	"$work/corpus" "$top/tests/fuzz/corpus" >"$work/fuzz.log" 2>&1
rc=$?
grep -E "INITED|DONE|stat::number_of_executed_units|stat::peak_rss" "$work/fuzz.log"
# A sanitizer report fails the run even if libFuzzer's exit status missed it
# (UBSan built without -fno-sanitize-recover would print and go on).
reports=$(grep -c -E "runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer|SUMMARY: [A-Za-z]*Sanitizer" \
	"$work/fuzz.log")
if [ "$reports" -gt 0 ]; then
	echo "sanitizer reports in the fuzz log:"
	grep -E -A12 "runtime error:|ERROR: [A-Za-z]*Sanitizer" "$work/fuzz.log" | head -60
	[ "$rc" -ne 0 ] || rc=1
fi
# libFuzzer exits 77 on a crash by default, which would read as "skip".
if [ "$rc" -ne 0 ]; then
	grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' "$work/fuzz.log" | tail -40
	for f in "$work"/build/crash-* "$work"/build/leak-* "$work"/build/timeout-* \
		"$work"/build/oom-*; do
		[ -e "$f" ] || continue
		echo "--- $f (reproduce: $work/build/tests/fuzz/fuzz_framing $f)"
		base64 -w0 "$f"
		echo
	done
	echo "FAIL: fuzz_framing exited $rc"
	exit 1
fi
echo "PASS: no crash in $seconds s"
exit 0
