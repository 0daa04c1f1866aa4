/* SPDX-License-Identifier: BSD-2-Clause */
/* ThreadSanitizer annotations for synchronisation it cannot see.
 *
 * TSan understands C11/__atomic operations and pthreads, but not
 * Concurrency Kit's inline-asm fences nor liburcu's grace periods.  Where
 * metricd relies on those, it states the happens-before edge they provide
 * with these annotations; in builds without TSan they compile to nothing. */
#ifndef METRICD_CORE_BASE_TSAN_H
#define METRICD_CORE_BASE_TSAN_H

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
/* Exported by the TSan runtime; GCC 12's header does not declare them. */
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define TSAN_RELEASE(p) __tsan_release((void *)(p))
#define TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
/* Accesses between these are not checked: the ring's own slot copies,
 * whose ordering CK's fences guarantee. */
#define TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define TSAN_IGNORE_END() __tsan_ignore_thread_end()
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#define TSAN_IGNORE_BEGIN() ((void)0)
#define TSAN_IGNORE_END() ((void)0)
#endif

#endif
