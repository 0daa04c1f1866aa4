/* SPDX-License-Identifier: BSD-2-Clause */
/* Coverage builds (--enable-coverage) write gcov counters when a process
 * exits normally.  A test process that ends by _exit() or by a signal -
 * a forked child, an expected abort - calls COVERAGE_DUMP() first, so what
 * it ran is counted.  Elsewhere it compiles to nothing. */
#ifndef METRICD_TESTS_COVDUMP_H
#define METRICD_TESTS_COVDUMP_H

#ifdef METRICD_COVERAGE
void __gcov_dump(void);
#define COVERAGE_DUMP() __gcov_dump()
#else
#define COVERAGE_DUMP() ((void)0)
#endif

#endif
