/* SPDX-License-Identifier: BSD-2-Clause */
/* The live page answered at /dashboard and /: workers/dashboard.html,
 * built into the binary by workers/embed.sh (the rule is in server.mk),
 * so answering it reads constant bytes and allocates nothing. */
#ifndef METRICD_WORKERS_DASHBOARD_H
#define METRICD_WORKERS_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

extern const char dashboard_page[];       /* NUL after the last byte */
extern const size_t dashboard_page_len;
extern const uint32_t dashboard_page_etag;   /* CRC-32 of the page */

#endif
