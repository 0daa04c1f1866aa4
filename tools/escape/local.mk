# SPDX-License-Identifier: BSD-2-Clause
# The escape report: which endpoints allocate, where, on which thread, and
# the handlers' stack frames - the C counterpart of go build -gcflags='-m -m'.
# `make escape-report` builds metricd again with -fstack-usage in
# build-escape/ (tools/build-tree, so this build's CFLAGS are untouched)
# and runs it under alloccount with this build's blast and reader.
# ESCAPE_FLAGS passes options, e.g. make escape-report ESCAPE_FLAGS='--json'.
ESCAPE_FLAGS =
EXTRA_DIST += tools/escape/escape-report docs/HEAP.md

escape-report: blast$(EXEEXT) alloccount-report$(EXEEXT) tools/alloccount/alloccount.la
	@$(PYTHON3) $(srcdir)/tools/escape/escape-report --srcdir '$(abs_top_srcdir)' \
		--tools-dir '$(abs_top_builddir)' \
		--build-dir '$(abs_top_builddir)/build-escape' $(ESCAPE_FLAGS)

clean-escape:
	rm -rf build-escape
clean-local: clean-escape
.PHONY: escape-report clean-escape
