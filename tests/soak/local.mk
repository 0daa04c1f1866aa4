# SPDX-License-Identifier: BSD-2-Clause
# Soak and fault tests: Python 3 scripts that start the real metricd
# ($METRICD, exported by tests/local.mk) on an ephemeral loopback port.
# Each stops by itself within seconds; exit 77 = skipped (with a reason).
# Under `make -j` they take turns (a lock in soaklib.py), so one test's
# load does not show up in another's latency figures.
SOAK_TESTS = \
	tests/soak/test_malformed.py \
	tests/soak/test_id_values.py \
	tests/soak/test_timeouts.py \
	tests/soak/test_client_faults.py \
	tests/soak/test_garbage_flood.py \
	tests/soak/test_max_conns.py \
	tests/soak/test_emfile.py \
	tests/soak/test_slow_worker.py \
	tests/soak/test_slowloris.py \
	tests/soak/test_soak_10k.py \
	tests/soak/test_drip_flood.py \
	tests/soak/test_slow_readers.py \
	tests/soak/test_dead_peer.py \
	tests/soak/test_reload_stall.py \
	tests/soak/test_shutdown_deadline.py \
	tests/soak/test_rfc9110.py \
	tests/soak/test_connect_flood.py \
	tests/soak/test_limits_misc.py \
	tests/soak/test_nofile.py
TESTS += $(SOAK_TESTS)
EXTRA_DIST += $(SOAK_TESTS) tests/soak/soaklib.py
CLEANFILES += tests/soak/soak.lock

# Paths the coverage report showed no test took: start and stop with idle
# connections, IPv6, reloads (warnings, and under load), answers that
# close their connection.
SOAK_TESTS += \
	tests/soak/test_lifecycle.py \
	tests/soak/test_ipv6.py \
	tests/soak/test_reload.py \
	tests/soak/test_close_answers.py

# Shards, listening sockets, placement and spinning.
SOAK_TESTS += \
	tests/soak/test_shards.py \
	tests/soak/test_listen.py \
	tests/soak/test_idle.py
