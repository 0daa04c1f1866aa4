# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the tests/ci.d checks (tools/check-all runs only *.sh, so this
# file is not a check itself).
# shellcheck shell=bash

# Sanitizer options, as for `make check`: stop at the first report.
. "$(dirname "${BASH_SOURCE[0]}")/../sanitizer-env.sh"

# missing_tool MESSAGE: a tool the check needs is not installed.  Run by
# hand, the check is skipped (77) and says why; in CI (CI set), where
# tools/setup-deps installs every tool, it fails.
missing_tool() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $* (CI is set: a missing tool is a failure, not a skip)"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

# skip REASON: skipped for another reason than a missing tool.
skip() {
	echo "SKIP: $*"
	exit 77
}
