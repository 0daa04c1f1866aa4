# Running metricd as a system service: the systemd units, the
# /etc/default file, an example config file and the man page (their tests
# are under tests/: test_notify*, test_service_notify.py, ci.d/systemd.sh).
# metricd, blast and alloccount(-report) install through their own
# fragments (bin_PROGRAMS, pkglib_LTLIBRARIES), blast.1 through
# tools/blast/local.mk.

man_MANS += dist/metricd.8

# The unit is made from its .in at build time, not by configure, so that
# @bindir@ is fully expanded (configure would leave ${exec_prefix} in it)
# and follows `make bindir=...`.
dist_edit = sed \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

dist/metricd.service: $(srcdir)/dist/metricd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && rm -f $@ $@.tmp && \
	$(dist_edit) $(srcdir)/dist/metricd.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@

if INSTALL_SYSTEMD_UNITS
systemdsystemunit_DATA = dist/metricd.service dist/metricd.socket
else
# Still built: tests/ci.d/systemd.sh verifies it.
noinst_DATA = dist/metricd.service
endif
CLEANFILES += dist/metricd.service dist/metricd.service.tmp

# $(sysconfdir)/default/metricd is the admin's file once installed: it is
# installed only where none exists, and uninstalled only while it is still
# the shipped one.  The example config is ours and always replaced.
dist_defaultdir = $(sysconfdir)/default
dist_exampledir = $(sysconfdir)/metricd

install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(dist_defaultdir)' '$(DESTDIR)$(dist_exampledir)'
	@if test -f '$(DESTDIR)$(dist_defaultdir)/metricd'; then \
	  echo "keeping the existing $(DESTDIR)$(dist_defaultdir)/metricd"; \
	else \
	  echo " $(INSTALL_DATA) dist/metricd.default '$(DESTDIR)$(dist_defaultdir)/metricd'"; \
	  $(INSTALL_DATA) $(srcdir)/dist/metricd.default '$(DESTDIR)$(dist_defaultdir)/metricd'; \
	fi
	$(INSTALL_DATA) $(srcdir)/dist/metricd.conf.example \
	  '$(DESTDIR)$(dist_exampledir)/metricd.conf.example'

uninstall-local:
	rm -f '$(DESTDIR)$(dist_exampledir)/metricd.conf.example'
	@f='$(DESTDIR)$(dist_defaultdir)/metricd'; \
	if test -f "$$f" && cmp -s $(srcdir)/dist/metricd.default "$$f"; then \
	  echo " rm -f '$$f'"; rm -f "$$f"; \
	elif test -f "$$f"; then \
	  echo "keeping $$f: it was changed since it was installed"; \
	fi

# `make distcheck` installs under its own prefix: the units too, wherever
# pkg-config says systemd keeps them.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/$(systemdsystemunitdir)

EXTRA_DIST += \
	dist/metricd.service.in \
	dist/metricd.socket \
	dist/metricd.default \
	dist/metricd.conf.example \
	dist/metricd.8 \
	docs/DEPLOY.md
