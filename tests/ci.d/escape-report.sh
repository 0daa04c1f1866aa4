#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# CI: the escape report must pass - no allocation on the stack path, exactly
# 3 mallocs + 3 frees per request (1 cross-thread) on the heap path - with
# the access log on.
# Usage: tests/ci.d/escape-report.sh BUILD_DIR
#   BUILD_DIR: a build directory (tools/check-all passes its -Werror build);
#   its blast, alloccount-report and alloccount.so drive the measurement, and
#   metricd is built again with -fstack-usage in BUILD_DIR/build-escape
#   (tools/build-tree).  20000 requests per endpoint: well under a minute.
# Exit: the report's status (0 pass, 1 fail, 2 could not run); 77 only when
# a prerequisite is missing (with CI set, that fails).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-}
. "$top/tests/ci.d/common.bash"

[ -n "$build" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ -d "$build" ] || { echo "$build: no such build directory" >&2; exit 2; }
build=$(cd "$build" && pwd)

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || missing_tool "python3 not found (apt-get install python3)"
command -v addr2line >/dev/null || missing_tool "addr2line not found (apt-get install binutils)"
command -v make >/dev/null || missing_tool "make not found (apt-get install make)"
# The build's tools drive the measurement, unless it is a sanitizer build
# (alloccount cannot share a process with a sanitizer's allocator) or they
# are missing: then the report builds its own in build-escape.
tools=(--tools-dir "$build")
if grep -q -- '-fsanitize' "$build/config.status" 2>/dev/null; then
	tools=()
fi
for f in blast alloccount-report tools/alloccount/.libs/alloccount.so; do
	[ -e "$build/$f" ] || tools=()
done

# With the access log on: its path (the text ring, the line, the logger)
# must not allocate either.
exec "$py" "$top/tools/escape/escape-report" --requests 20000 --access-log /dev/null \
	--srcdir "$top" "${tools[@]}" --build-dir "$build/build-escape"
