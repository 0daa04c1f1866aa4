#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every option in metricd's table (as --help prints it) is documented where
# operators look: the README's flag list, the man page and the example
# config file; and the options --help lists as live (changed by SIGHUP) are
# the ones the example marks "[live]".  Keys the example names must exist.
# Usage: tests/ci.d/options-doc.sh BUILDDIR   (exit 0 pass, else fail)
set -u
build=$(cd "${1:?usage: options-doc.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
help=$("$build/metricd" --help) || { echo "FAIL: metricd --help"; exit 1; }
opts=$(printf '%s\n' "$help" | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\).*/\2/p' |
	grep -v -x -e help -e version -e check-config)
live=$(printf '%s\n' "$help" | sed -n '/these change live/,$p' | tail -n +3 | tr ' ' '\n' | grep .)
[ -n "$opts" ] && [ -n "$live" ] || { echo "FAIL: could not read the options from --help"; exit 1; }
bad=0
for o in $opts; do
	grep -q -- "--$o" "$top/README.md" || { echo "FAIL: README.md does not list --$o"; bad=1; }
	grep -q -- "\\\\-\\\\-$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$top/dist/metricd.8.in" ||
		{ echo "FAIL: dist/metricd.8.in does not document --$o"; bad=1; }
	[ "$o" = config ] && continue
	grep -q -E "^#?$o = " "$top/dist/metricd.conf.example" ||
		{ echo "FAIL: dist/metricd.conf.example has no '$o = ' line"; bad=1; }
done
# "[live]" in the example exactly for the live options.
example_live=$(awk '/^# \[live\]/ { want = 1; next } want && /^#?[a-z-]+ = / { sub(/^#/, ""); sub(/ = .*/, ""); print; want = 0 } /^$/ { want = 0 }' \
	"$top/dist/metricd.conf.example" | sort)
if [ "$example_live" != "$(printf '%s\n' $live | sort)" ]; then
	echo "FAIL: the example's [live] keys differ from --help's live options:"
	diff <(printf '%s\n' $live | sort) <(printf '%s\n' "$example_live") | sed 's/^/  /'
	bad=1
fi
for k in $(sed -n 's/^#\{0,1\}\([a-z-]*\) = .*/\1/p' "$top/dist/metricd.conf.example"); do
	printf '%s\n' "$opts" | grep -q -x -- "$k" ||
		{ echo "FAIL: the example names '$k', which is not an option"; bad=1; }
done
[ $bad = 0 ] && echo "PASS: $(printf '%s\n' $opts | wc -l) options documented; live: $(printf '%s ' $live)"
exit $bad
