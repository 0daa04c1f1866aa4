# SPDX-License-Identifier: BSD-2-Clause
# The metricd server.  Its sources, minus main.c, also form a convenience
# library the unit tests link against.
noinst_LIBRARIES += libmetricd.a
libmetricd_a_SOURCES = \
	core/base/chain.c core/base/chain.h \
	core/base/clock.c core/base/clock.h \
	core/base/counters.c core/base/counters.h \
	core/base/fmt.c core/base/fmt.h \
	core/base/log.c core/base/log.h \
	core/base/mem.h \
	core/base/proc.c core/base/proc.h \
	core/base/sbuf.h \
	core/base/tsan.h \
	http/framing.c http/framing.h \
	http/request.h \
	http/response.c http/response.h \
	http/route.c http/route.h \
	queue/conn.c queue/conn.h \
	queue/queue.c queue/queue.h \
	queue/runtime.h \
	queue/text.c queue/text.h \
	workers/accesslog.c workers/accesslog.h \
	workers/admin.c \
	workers/dashboard.h \
	workers/endpoints.c workers/handler.h \
	workers/heap.c \
	workers/metric.c workers/metric.h \
	workers/slab.c workers/slab.h \
	workers/spin.c workers/spin.h \
	workers/stack.c \
	workers/telemetry.c workers/telemetry.h \
	workers/outbox.c workers/outbox.h \
	workers/worker.c workers/worker.h \
	core/acceptor.h \
	core/connection.c \
	core/control.c \
	core/lifecycle.c \
	core/listener.c \
	core/placement.c core/placement.h \
	core/server.h \
	core/cfg.c core/cfg.h \
	core/cfgfile.c \
	core/notify.c core/notify.h \
	core/reclaim.c core/reclaim.h \
	core/startup.c core/startup.h
# The route table: included by http/request.h, http/route.c, workers/endpoints.c.
EXTRA_DIST += http/routes.def
# The live page, built into the binary (workers/embed.sh).
nodist_libmetricd_a_SOURCES = workers/dashboard_page.c
workers/dashboard_page.c: $(srcdir)/workers/dashboard.html $(srcdir)/workers/embed.sh
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(SHELL) $(srcdir)/workers/embed.sh $(srcdir)/workers/dashboard.html \
		dashboard_page workers/dashboard.h >$@.tmp && mv $@.tmp $@
CLEANFILES += workers/dashboard_page.c
EXTRA_DIST += workers/dashboard.html workers/embed.sh
libmetricd_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS) $(URCU_CFLAGS) $(LIBSYSTEMD_CFLAGS)
SERVER_LIBS = libmetricd.a $(LIBEVENT_LIBS) $(CK_LIBS) $(URCU_LIBS) $(HTTP_PARSER_LIBS) $(LIBSYSTEMD_LIBS) $(DL_LIBS) $(PTHREAD_LIBS)

bin_PROGRAMS += metricd
metricd_SOURCES = core/main.c
metricd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS)
metricd_LDADD = $(SERVER_LIBS)
