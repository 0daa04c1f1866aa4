/* SPDX-License-Identifier: BSD-2-Clause */
/* The service manager's side: sd_notify(3) messages and socket activation.
 *
 * All functions are no-ops (returning 0 / -1 as stated) when metricd was not
 * started by systemd (no NOTIFY_SOCKET / LISTEN_FDS).  Safe to call from the
 * acceptor thread; not meant for the hot path. */
#ifndef METRICD_CORE_NOTIFY_H
#define METRICD_CORE_NOTIFY_H

#include <stdint.h>

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID once. */
void notify_init(void);
/* "READY=1" plus an optional STATUS= line. */
void notify_ready(const char *status);
/* "RELOADING=1" with MONOTONIC_USEC= (systemd >= 253 wants it). */
void notify_reloading(void);
void notify_stopping(void);
/* "STATUS=..." (printf format). */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog interval in microseconds, 0 when WatchdogSec= is not set. */
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);
/* Socket activation: the listening fds passed by systemd (LISTEN_FDS and
 * LISTEN_PID = our pid), made non-blocking, at most max of them into fds;
 * returns how many (0 when none, or when one is not a listening stream
 * socket).  Every shard listens on all of them (core/listener.c). */
#define NOTIFY_MAX_LISTEN_FDS 16
int notify_listen_fds(int *fds, int max);

#endif
