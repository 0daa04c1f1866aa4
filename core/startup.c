/* The configuration test, done by the main thread before anything is
 * bound or started. */
#include "config.h"

#include <stdio.h>

#include "core/startup.h"

int startup_config_test(const struct cfg *c)
{
	char err[512];

	if (cfg_check_system(c, err, sizeof(err))) {
		fprintf(stderr, "metricd: %s\n", err);
		fprintf(stderr, "metricd: configuration test failed\n");
		return 2;
	}
	if (c->config_path[0])
		printf("metricd: configuration %s ok\n", c->config_path);
	else
		printf("metricd: configuration ok (no config file: defaults and flags; "
		       "%s does not exist)\n", CFG_DEFAULT_FILE);
	return 0;
}
