# SPDX-License-Identifier: BSD-2-Clause
# Running metricd as a system service: the systemd units, the
# /etc/default file, an example config file and the man page (their tests
# are under tests/: test_notify*, test_service_notify.py, ci.d/systemd.sh).
# metricd, blast and alloccount install through their own fragments,
# blast.1 and alloccount.1 too.  The unit and the man page are made from
# their .in at build time ($(edit_in), Makefile.am).

nodist_man_MANS += dist/metricd.8
dist/metricd.8: $(srcdir)/dist/metricd.8.in Makefile
	$(AM_V_GEN)$(do_edit_in) $(srcdir)/dist/metricd.8.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@
CLEANFILES += dist/metricd.8 dist/metricd.8.tmp

# metricd.service and the template metricd@.service from one file: the
# @instance_...@ marks are empty in the first and name the instance's
# config file, default file, log directory and description in the second.
dist/metricd.service: $(srcdir)/dist/metricd.service.in Makefile
	$(AM_V_GEN)$(do_edit_in) -e '/@instance_envfile@/d' -e 's|@instance_[a-z]*@||g' \
	  $(srcdir)/dist/metricd.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@
dist/metricd@.service: $(srcdir)/dist/metricd.service.in Makefile
	$(AM_V_GEN)$(do_edit_in) \
	  -e 's|@instance_envfile@|EnvironmentFile=-$(sysconfdir)/default/metricd@%i|' \
	  -e 's|@instance_config@|--config $(sysconfdir)/metricd/%i.conf |g' \
	  -e 's|@instance_dir@|/%i|g' -e 's|@instance_desc@| (instance %i)|g' \
	  $(srcdir)/dist/metricd.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@

if INSTALL_SYSTEMD_UNITS
systemdsystemunit_DATA = dist/metricd.service dist/metricd@.service dist/metricd.socket
else
# Still built: tests/ci.d/systemd.sh verifies them.
noinst_DATA = dist/metricd.service dist/metricd@.service
endif
CLEANFILES += dist/metricd.service dist/metricd.service.tmp \
	dist/metricd@.service dist/metricd@.service.tmp

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
	dist/metricd.8.in \
	docs/DEPLOY.md
