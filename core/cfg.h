/* SPDX-License-Identifier: BSD-2-Clause */
/* Configuration: command-line flags (getopt_long) and config-file keys,
 * which are the long flag names. */
#ifndef METRICD_CORE_CFG_H
#define METRICD_CORE_CFG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

#include "core/base/log.h"

#define CFG_MAX_WORKERS 256
#define CFG_MAX_ACCEPTORS 64
#define CFG_MAX_LISTEN 16

struct cfg_listen {
	char host[256];
	uint16_t port;
};

/* --listen may be given several times (and `listen =` several times in
 * the config file): each adds an address.  The first one given in a
 * source (the file, then the command line) replaces what came before it,
 * so the command line still wins over the file. */
struct cfg_listens {
	struct cfg_listen addr[CFG_MAX_LISTEN];
	unsigned n;
	bool fresh;                /* the next one given replaces the list */
};

struct cfg_cpus {
	cpu_set_t set;             /* valid when given */
	bool given;
};

/* Every field is set by exactly one option (core/cfg.c's table), so a
 * reload can copy or compare an option's field without knowing it. */
struct cfg {
	struct cfg_listens listen;
	bool reuseport;            /* SO_REUSEPORT on the listening sockets */
	unsigned workers;          /* 0 = as core/placement.h decides */
	unsigned acceptors;        /* shards; 0 = as core/placement.h decides */
	struct cfg_cpus cpus;      /* --cpus */
	struct cfg_cpus acceptor_cpu;  /* --acceptor-cpu */
	bool no_pin;
	unsigned ring_size;        /* power of two, per worker */
	unsigned max_conns;
	int spin_us;               /* the most an idle worker spins */
	unsigned max_header_bytes;
	unsigned max_body_bytes;   /* request bodies are read and discarded */
	unsigned max_pipeline;     /* requests in flight per connection */
	unsigned shutdown_timeout_ms;
	unsigned drain_delay_ms;     /* /healthz 503 before the drain */
	unsigned header_timeout_ms;  /* 0 = none */
	unsigned idle_timeout_ms;    /* 0 = none */
	unsigned send_timeout_ms;    /* 0 = none */
	unsigned max_unsent_bytes;   /* per connection */
	enum log_level log_level;
	char access_log[PATH_MAX];   /* "" = none, "-" = stderr */
	int access_log_format;       /* enum alog_format (workers/accesslog.h) */
	char server_header[64];
	char config_path[PATH_MAX];  /* --config */
};

enum cfg_result {
	CFG_OK = 0,        /* run the server */
	CFG_EXIT = 1,      /* --help or --version was printed: exit 0 */
	CFG_CHECK = 2,     /* -t / --check-config: check the settings, start nothing */
};

void cfg_defaults(struct cfg *c);
/* Parses argv into *c.  Returns CFG_OK, CFG_EXIT, CFG_CHECK (-t, with every
 * flag valid), or -EINVAL with a message
 * (naming the flag and what is wrong with it) in err. */
int cfg_parse(struct cfg *c, int argc, char **argv, char *err, size_t errlen);
/* Sets one option by its long name (a config-file key); value is NULL for
 * a flag given without one.  Returns 0 or -EINVAL with "name: what is
 * wrong" (or "unknown key 'name'") in err. */
int cfg_set(struct cfg *c, const char *name, const char *value, char *err,
	    size_t errlen);
/* A reload: copies into *run the options that change live ("runtime" in
 * the table) and calls restart(name) for each other option whose value
 * differs.  Returns how many live options changed. */
unsigned cfg_reload(struct cfg *run, const struct cfg *next,
		    void (*restart)(const char *name));
/* The checks that need the running system, done at start (and by a config
 * test): every --cpus and --acceptor-cpu CPU is one this process may run
 * on, and the access log can be opened for appending.  Returns 0 or
 * -EINVAL with a message. */
int cfg_check_system(const struct cfg *c, char *err, size_t errlen);
/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT". */
int cfg_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Parses "0-3,6" into a CPU set. */
int cfg_parse_cpus(const char *s, cpu_set_t *set);
void cfg_print_usage(int fd);
/* Applies a config file (core/cfgfile.c).  Returns 0, or -errno / -EINVAL
 * with "FILE:LINE: key: what is wrong" in err. */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/* Defaults, then the config file (--config, else CFG_DEFAULT_FILE when it
 * exists), then the command line over it.  Same returns as cfg_parse; a
 * file error is -EINVAL with its message. */
int cfg_build(struct cfg *c, int argc, char **argv, char *err, size_t errlen);

/* configure's sysconfdir, passed by the Makefile. */
#ifndef METRICD_SYSCONFDIR
#define METRICD_SYSCONFDIR "/etc"
#endif
#define CFG_DEFAULT_FILE METRICD_SYSCONFDIR "/metricd/metricd.conf"

#endif
