# SPDX-License-Identifier: BSD-2-Clause
# What operators use around the server: monitoring (Prometheus rules and
# example scrape configurations, a Grafana dashboard), shipped in the
# tarball and checked by tests/ci.d/prometheus.sh; several hosts behind
# HAProxy (checked by tests/ci.d/cluster.sh).
EXTRA_DIST += \
	dist/haproxy/metricd.cfg \
	dist/prometheus/cluster.yml \
	dist/prometheus/prometheus.yml \
	dist/prometheus/metricd.rules.yml \
	dist/prometheus/metricd.alerts.yml \
	dist/grafana/metricd.json \
	tests/prometheus/metricd.test.yml \
	tests/prometheus/promql_names.py

# logrotate: the access logs under /var/log/metricd (tests/ci.d/logrotate.sh).
logrotatedir = $(sysconfdir)/logrotate.d
dist_logrotate_DATA = dist/logrotate/metricd

# The Debian package (dpkg-buildpackage -us -uc -b; tests/ci.d/deb.sh).
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/metricd.docs \
	debian/metricd.examples \
	debian/rules \
	debian/source/format
