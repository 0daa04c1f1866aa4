#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every source file says its licence (LICENSE: BSD-2-Clause) in an SPDX
# line within its first three lines: C, headers and the route table,
# Python, shell, make and autoconf files, the man pages, units, configs
# and scripts shipped in dist/ and tools/.  A file without one fails the
# check, by name.  Data (the fuzz corpus, images, JSON) and prose (the
# Markdown documents) are not source and are not checked.
# Usage: tests/ci.d/spdx.sh [BUILDDIR]   (the build is not used)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 || {
	echo "SKIP: not a git checkout (the check lists what git tracks)"
	exit 77
}
tag='SPDX-License-Identifier: BSD-2-Clause'
n=0 bad=0
while IFS= read -r f; do
	case "$f" in
	*.md | *.png | *.svg | *.json | */.gitignore | */.gitkeep | tests/fuzz/corpus/* | \
	LICENSE | debian/changelog | debian/control | debian/copyright | debian/source/* | \
	debian/*.docs | debian/*.examples) continue ;;
	esac
	[ -f "$f" ] || continue
	n=$((n + 1))
	if ! head -3 "$f" | grep -qF "$tag"; then
		echo "FAIL: $f: no '$tag' in its first three lines"
		bad=$((bad + 1))
	fi
done < <(git ls-files)
grep -q '^BSD 2-Clause License' LICENSE || { echo "FAIL: LICENSE is not the BSD 2-Clause text"; bad=$((bad + 1)); }
echo "$n source files, $bad without their SPDX line"
[ "$bad" -eq 0 ]
