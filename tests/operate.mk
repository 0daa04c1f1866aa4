# SPDX-License-Identifier: BSD-2-Clause
# What operators rely on besides serving: the configuration test
# (metricd -t).  How metricd logs under systemd: tests/test_log (unit.mk).
TESTS += tests/test_check_config.py
EXTRA_DIST += tests/test_check_config.py
