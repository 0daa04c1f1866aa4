/* Between parsing the settings and binding: the configuration test
 * (metricd -t). */
#ifndef METRICD_CORE_STARTUP_H
#define METRICD_CORE_STARTUP_H

#include <stdbool.h>

#include "core/cfg.h"

/* metricd -t: the settings in *c were parsed (flags and config file);
 * runs the checks that need the system and prints the verdict.  Binds
 * nothing, starts no thread.  Returns the process's exit status: 0 when
 * the configuration is usable, 2 when it is not. */
int startup_config_test(const struct cfg *c);

#endif
