#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A cluster in a box under faults: three metricd hosts behind Debian's
# haproxy (dist/haproxy/metricd.cfg as shipped), scraped by Debian's
# prometheus (dist/prometheus/cluster.yml), loaded by blast from two client
# namespaces, in network namespaces the test creates and removes itself;
# kill -9, a rolling restart, a reload and SIGSTOP under load, each with
# its figures.  tests/cluster/test_cluster.py says what is checked.
# About a minute; needs root.
# Usage: tests/ci.d/cluster.sh BUILDDIR   (exit 0 pass, 77 skip, else fail)
set -u
build=$(cd "${1:?usage: cluster.sh BUILDDIR}" && pwd) || exit 1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/ci.d/common.bash"
command -v python3 >/dev/null 2>&1 || missing_tool "python3 not found"
for b in metricd blast; do
	[ -x "$build/$b" ] || { echo "FAIL: $build/$b is not built"; exit 1; }
done
# From the build directory: soaklib's turn lock (tests/soak/soak.lock) is
# taken there, not in the sources.
cd "$build" || exit 1
METRICD="$build/metricd" BLAST="$build/blast" exec python3 "$top/tests/cluster/test_cluster.py"
