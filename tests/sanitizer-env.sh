# SPDX-License-Identifier: BSD-2-Clause
# Sanitizer options for everything the tests run, sourced (not executed)
# by AM_TESTS_ENVIRONMENT (tests/local.mk), tools/check-all and the
# tests/ci.d scripts that start programs.  configure builds with
# -fno-sanitize-recover, so the first UBSan report ends the process with an
# error status; these options make every sanitizer stop at its first report
# and say where it came from.  Options already in the environment come
# after ours, so the caller's win.  Sourcing it twice changes nothing.
if [ -z "${METRICD_SANITIZER_ENV-}" ]; then
	METRICD_SANITIZER_ENV=1
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
	export METRICD_SANITIZER_ENV UBSAN_OPTIONS ASAN_OPTIONS TSAN_OPTIONS
fi
