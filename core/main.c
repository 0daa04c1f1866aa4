/* SPDX-License-Identifier: BSD-2-Clause */
/* metricd: parse flags, place the threads, bind, start the shards, run the
 * control thread until a drain ends, stop. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/cfg.h"
#include "core/notify.h"
#include "core/placement.h"
#include "core/server.h"
#include "core/startup.h"
#include "http/framing.h"

/* The machine (the CPUs to run on: --cpus, else the affinity mask we were
 * given; their L3 groups) and what the flags ask: where each thread runs. */
static int place(const struct cfg *cfg, struct placement *p, char *err, size_t errlen)
{
	static struct placement_topo topo;        /* large; main thread only */
	int acc_cpu[CPU_SETSIZE];
	struct placement_ask ask = {
		.workers = cfg->workers,
		.acceptors = cfg->acceptors,
		.acceptor_cpu = acc_cpu,
		.pin = !cfg->no_pin,
	};
	cpu_set_t set;

	if (cfg->cpus.given)
		set = cfg->cpus.set;
	else if (sched_getaffinity(0, sizeof(set), &set))
		CPU_ZERO(&set);
	placement_read_topo("/sys", &set, &topo);
	if (cfg->acceptor_cpu.given)
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &cfg->acceptor_cpu.set))
				acc_cpu[ask.nacceptor_cpu++] = i;
	return placement_plan(&topo, &ask, p, err, errlen);
}

/* Flags, config file and system checks; where the threads run.
 * Returns -1 to go on serving, else main's exit status. */
static int configure(struct cfg *cfg, struct placement *p, int argc, char **argv)
{
	char err[512], perr[256];
	int rc = cfg_build(cfg, argc, argv, err, sizeof(err)), prc;

	if (rc == CFG_EXIT)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "metricd: %s\nTry 'metricd --help' for more information.\n",
			err);
		return 2;
	}
	if (rc != CFG_CHECK && cfg_check_system(cfg, err, sizeof(err))) {
		fprintf(stderr, "metricd: %s\n", err);
		return 2;
	}
	log_set_level(cfg->log_level);
	prc = place(cfg, p, perr, sizeof(perr));
	if (rc == CFG_CHECK)
		return startup_config_test(cfg, p, prc ? perr : NULL);
	if (prc) {
		fprintf(stderr, "metricd: %s\n", perr);
		return 2;
	}
	startup_check_nofile(cfg, p);
	return -1;
}

/* Tells the log and systemd that we serve, and where each thread runs. */
static void announce(const struct server *s, const struct cfg *cfg)
{
	char addr[1024], status[1280], line[900];

	/* Where the threads run, then "listening on" last: whoever waits
	 * for that line has the others too. */
	for (unsigned i = 0; i < s->nshards; i++) {
		placement_describe(&s->place, i, line, sizeof(line));
		log_info("%s", line);
	}
	server_local_addrs(s, addr, sizeof(addr));
	log_info("listening on %s workers=%u acceptors=%u", addr, s->nworkers, s->nshards);
	snprintf(status, sizeof(status), "listening on %s, %u workers", addr, s->nworkers);
	notify_ready(status);
	log_debug("spin-us=%d ring-size=%u max-conns=%u max-pipeline=%u reuseport=%s",
		  cfg->spin_us, cfg->ring_size, cfg->max_conns, cfg->max_pipeline,
		  cfg->reuseport ? "yes" : "no");
}

int main(int argc, char **argv)
{
	static struct cfg cfg;
	static struct placement plan;
	static struct server srv;
	sigset_t sigs;
	int rc;

	log_init();
	notify_init();
	if ((rc = configure(&cfg, &plan, argc, argv)) >= 0)
		return rc;

	/* Only the control thread takes signals: they are blocked before any
	 * thread starts, and server_run unblocks them on this one. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	http_framer_global_init(cfg.max_header_bytes);
	clock_calibrate();
	if (server_listen(&srv, &cfg, &plan))
		return 1;
	if ((rc = server_start(&srv, argc, argv))) {
		log_error("cannot start: %s", strerror(-rc));
		server_destroy(&srv);
		return 1;
	}
	announce(&srv, &cfg);
	if ((rc = server_run(&srv))) {
		server_destroy(&srv);
		return 1;
	}
	log_info("stopped: %llu connection(s) served",
		 (unsigned long long)server_accepted(&srv));
	server_destroy(&srv);
	return 0;
}
