/* Startup configuration: command-line flags (getopt_long). */
#ifndef METRICD_CORE_CFG_H
#define METRICD_CORE_CFG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define CFG_MAX_WORKERS 256

struct cfg {
	char listen_host[256];
	uint16_t listen_port;
	unsigned workers;          /* 0 = one per allowed CPU */
	cpu_set_t cpus;            /* --cpus, valid when cpus_given */
	bool cpus_given;
	bool no_pin;
	unsigned ring_size;        /* power of two, per worker */
	unsigned max_conns;
	int spin_us;               /* -1 = auto (see cfg_resolve) */
	unsigned max_header_bytes;
	unsigned max_pipeline;     /* requests in flight per connection */
	unsigned shutdown_timeout_ms;
	enum log_level log_level;
};

enum cfg_result {
	CFG_OK = 0,        /* run the server */
	CFG_EXIT = 1,      /* --help or --version was printed: exit 0 */
};

void cfg_defaults(struct cfg *c);
/* Fills in what depends on the machine: workers (0 = one per allowed CPU,
 * less one for the acceptor when there are two or more) and spin_us (-1 =
 * 50 us when every thread has a CPU of its own, else 0: spinning on a
 * shared CPU only steals it from the thread that would produce work).
 * ncpus: the CPUs the workers may use. */
void cfg_resolve(struct cfg *c, unsigned ncpus);
/* Parses argv into *c.  Returns CFG_OK, CFG_EXIT, or -EINVAL with a message
 * (naming the flag and what is wrong with it) in err. */
int cfg_parse(struct cfg *c, int argc, char **argv, char *err, size_t errlen);
/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT". */
int cfg_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Parses "0-3,6" into a CPU set. */
int cfg_parse_cpus(const char *s, cpu_set_t *set);
void cfg_print_usage(int fd);

#endif
