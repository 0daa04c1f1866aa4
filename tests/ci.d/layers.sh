#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The server's folders include one another only downward (docs/ARCHITECTURE.md):
#   1 core/base/   the leaf: logging, clocks, counters, number formatting,
#                  byte chains, TSan annotations, the counted allocator
#   2 http/        the protocol, pure: framing, routes, answers
#   3 queue/       what crosses threads: rings, the connection record
#   4 workers/     the worker threads and the endpoints they serve
#   5 core/        the process: options, the acceptor, lifecycle, main
# A file may include its own folder and any lower one; an include that
# goes up fails the check, naming the line.
# Usage: tests/ci.d/layers.sh [BUILDDIR]   (the build is not used)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
layer() {
	case "$1" in
	core/base/*) echo 1 ;;
	http/*) echo 2 ;;
	queue/*) echo 3 ;;
	workers/*) echo 4 ;;
	core/*) echo 5 ;;
	*) echo 0 ;;
	esac
}
bad=0 n=0
for f in $(git ls-files core http queue workers | grep -E '\.(c|h|def)$'); do
	lf=$(layer "$f")
	while IFS=: read -r ln inc; do
		n=$((n + 1))
		li=$(layer "$inc")
		if [ "$li" -gt "$lf" ]; then
			echo "FAIL: $f:$ln includes \"$inc\", a layer above it ($li > $lf)"
			bad=1
		fi
	done < <(grep -n '^#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1:\2/')
done
[ $bad = 0 ] && echo "PASS: $n includes in the server, none goes up"
exit $bad
