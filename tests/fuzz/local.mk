# SPDX-License-Identifier: BSD-2-Clause
# libFuzzer harness over framing + routing + the worker's answers.
# Built only in a build configured with CC=clang --enable-fuzz; run by
# tests/ci.d/fuzz.sh over the committed corpus.  The server sources are
# compiled again here with the fuzzer's instrumentation; the slab is
# poisoned between answers (METRICD_ASAN) so an answer written past what
# it reserved is caught.
FUZZ_SERVER_SOURCES = http/framing.c http/route.c http/response.c \
	workers/worker.c workers/outbox.c workers/endpoints.c workers/admin.c \
	workers/stack.c workers/heap.c workers/slab.c \
	core/base/chain.c workers/metric.c core/base/counters.c core/base/log.c \
	core/base/clock.c core/base/fmt.c workers/telemetry.c \
	workers/accesslog.c workers/spin.c core/base/proc.c queue/conn.c queue/queue.c \
	queue/text.c
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_framing
tests_fuzz_fuzz_framing_SOURCES = tests/fuzz/fuzz_framing.c $(FUZZ_SERVER_SOURCES)
nodist_tests_fuzz_fuzz_framing_SOURCES = workers/dashboard_page.c
tests_fuzz_fuzz_framing_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS) -O1 -DMETRICD_ASAN=1 \
	$(LIBEVENT_CFLAGS) $(CK_CFLAGS) $(URCU_CFLAGS)
tests_fuzz_fuzz_framing_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_framing_LDADD = $(HTTP_PARSER_LIBS) $(URCU_LIBS) $(CK_LIBS) $(DL_LIBS) $(PTHREAD_LIBS)
endif
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/http.dict tests/fuzz/mkcorpus.py

# The same harness without libFuzzer, in every build: each corpus input
# once (tests/fuzz/replay.c), against the server's library.
check_PROGRAMS += tests/fuzz/fuzz_framing_replay
TESTS += tests/fuzz/fuzz_framing_replay
tests_fuzz_fuzz_framing_replay_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_framing.c
tests_fuzz_fuzz_framing_replay_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(CK_CFLAGS) \
	$(URCU_CFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus"'
tests_fuzz_fuzz_framing_replay_LDADD = $(SERVER_LIBS)
