/* metricd: parse flags, bind, start the workers and the acceptor thread,
 * wait for it to drain and stop. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/acceptor.h"
#include "core/cfg.h"
#include "core/base/log.h"
#include "core/notify.h"
#include "core/startup.h"
#include "core/base/clock.h"
#include "core/base/counters.h"
#include "http/framing.h"

/* CPUs to pin to, in order: --cpus, else the affinity mask we were given. */
static unsigned pick_cpus(const struct cfg *cfg, int *cpus)
{
	cpu_set_t set;
	unsigned n = 0;

	if (cfg->no_pin)
		return 0;
	if (cfg->cpus.given)
		set = cfg->cpus.set;
	else if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int i = 0; i < CPU_SETSIZE && n < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	return n;
}

static void *acceptor_thread(void *arg)
{
	struct acceptor *a = arg;
	sigset_t sigs;

	pthread_setname_np(pthread_self(), "metricd-acc");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	acceptor_run(a);
	return NULL;
}

/* Flags, config file and system checks; the CPUs to pin to in cpus.
 * Returns -1 to go on serving, else main's exit status. */
static int configure(struct cfg *cfg, int argc, char **argv, int *cpus,
		     unsigned *ncpus)
{
	char err[512];
	int rc = cfg_build(cfg, argc, argv, err, sizeof(err));

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
	*ncpus = pick_cpus(cfg, cpus);
	if (*ncpus) {
		cfg_resolve(cfg, *ncpus);
	} else {
		cpu_set_t set;

		cfg_resolve(cfg, sched_getaffinity(0, sizeof(set), &set) == 0
				? (unsigned)CPU_COUNT(&set) : 1);
	}
	if (rc == CFG_CHECK)
		return startup_config_test(cfg);
	startup_check_nofile(cfg);
	if (*ncpus && cfg->workers > *ncpus)
		log_info("more workers (%u) than CPUs (%u): workers share CPUs",
			 cfg->workers, *ncpus);
	return -1;
}

/* Tells the log and systemd that we serve. */
static void announce(struct acceptor *acc, const struct cfg *cfg,
		     unsigned ncpus)
{
	char addr[128], status[192];

	acceptor_local_addr(acc, addr, sizeof(addr));
	log_info("listening on %s workers=%u", addr, cfg->workers);
	snprintf(status, sizeof(status), "listening on %s, %u workers", addr,
		 cfg->workers);
	notify_ready(status);
	log_debug("spin-us=%d ring-size=%u max-conns=%u max-pipeline=%u pinned=%s",
		  cfg->spin_us, cfg->ring_size, cfg->max_conns, cfg->max_pipeline,
		  ncpus ? "yes" : "no");
}

int main(int argc, char **argv)
{
	static struct cfg cfg;
	static struct acceptor acc;
	static int cpus[CPU_SETSIZE];
	sigset_t sigs;
	pthread_t acc_thread;
	unsigned ncpus = 0;
	int rc;

	log_init();
	notify_init();
	if ((rc = configure(&cfg, argc, argv, cpus, &ncpus)) >= 0)
		return rc;

	/* Workers never take signals: they are started with these blocked and
	 * only the acceptor thread unblocks them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	http_framer_global_init(cfg.max_header_bytes);
	clock_calibrate();
	if (acceptor_listen(&acc, &cfg))
		return 1;
	if ((rc = acceptor_start(&acc, cpus, ncpus, argc, argv))) {
		log_error("cannot start: %s", strerror(-rc));
		acceptor_destroy(&acc);
		return 1;
	}
	announce(&acc, &cfg, ncpus);
	if ((rc = pthread_create(&acc_thread, NULL, acceptor_thread, &acc))) {
		log_error("cannot start the acceptor: %s", strerror(rc));
		return 1;
	}
	pthread_join(acc_thread, NULL);
	log_info("stopped: %llu connection(s) served",
		 (unsigned long long)CNT_GET(acc.ctr.accepted));
	acceptor_destroy(&acc);
	return 0;
}
