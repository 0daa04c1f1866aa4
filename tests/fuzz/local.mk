# libFuzzer harness over framing + routing + response writing (one unit).
# Built only in a build configured with CC=clang --enable-fuzz; run by
# tests/ci.d/fuzz.sh over the committed corpus.  The server sources are
# compiled again here with the fuzzer's instrumentation.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_framing
tests_fuzz_fuzz_framing_SOURCES = tests/fuzz/fuzz_framing.c \
	http/framing.c http/route.c http/response.c
tests_fuzz_fuzz_framing_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS) -O1
tests_fuzz_fuzz_framing_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_framing_LDADD = $(HTTP_PARSER_LIBS)
endif
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/http.dict tests/fuzz/mkcorpus.py
