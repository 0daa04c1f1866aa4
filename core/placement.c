/* SPDX-License-Identifier: BSD-2-Clause */
/* Where the threads run: the rules are in core/placement.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/log.h"
#include "core/cfg.h"
#include "core/placement.h"

/* The shards' CPUs, one list after the other. */
struct shard_cpus {
	int cpu[CPU_SETSIZE + PLACEMENT_MAX_SHARDS];
	unsigned off[PLACEMENT_MAX_SHARDS], len[PLACEMENT_MAX_SHARDS];
};


/* The CPUs grouped by L3, groups in order of their first CPU; returns
 * how many groups. */
static unsigned group_cpus(const struct placement_topo *t, int *order,
			   unsigned *glen)
{
	unsigned n = 0, ngroups = 0;
	bool taken[CPU_SETSIZE] = { false };

	for (unsigned i = 0; i < t->ncpus; i++) {
		if (taken[i])
			continue;
		unsigned start = n;

		for (unsigned j = i; j < t->ncpus; j++)
			if (!taken[j] && t->l3[j] == t->l3[i]) {
				taken[j] = true;
				order[n++] = t->cpu[j];
			}
		if (ngroups < PLACEMENT_MAX_SHARDS)
			glen[ngroups] = n - start;
		else
			glen[PLACEMENT_MAX_SHARDS - 1] += n - start;
		if (ngroups < PLACEMENT_MAX_SHARDS)
			ngroups++;
	}
	return ngroups;
}

/* Shards of about `size` CPUs in a group of len CPUs: at least one. */
static unsigned group_shards(unsigned len, unsigned size)
{
	return len / size ? len / size : 1;
}

static unsigned shards_of(const unsigned *glen, unsigned ngroups, unsigned size)
{
	unsigned n = 0;

	for (unsigned g = 0; g < ngroups; g++)
		n += group_shards(glen[g], size);
	return n;
}

/* The default: one shard per PLACEMENT_SHARD_CPUS CPUs of each group (more
 * CPUs each when that would be over PLACEMENT_MAX_SHARDS shards), at least
 * one per group; each group's CPUs split into (nearly) equal runs, their
 * lengths in len[].  Returns the number of shards. */
static unsigned auto_shards(const unsigned *glen, unsigned ngroups, unsigned *len)
{
	unsigned size = PLACEMENT_SHARD_CPUS, n = 0;

	while (shards_of(glen, ngroups, size) > PLACEMENT_MAX_SHARDS)
		size++;
	for (unsigned g = 0; g < ngroups; g++) {
		unsigned k = group_shards(glen[g], size);

		for (unsigned i = 0; i < k; i++)
			len[n++] = glen[g] / k + (i < glen[g] % k);
	}
	return n;
}

/* Splits the CPUs among the shards: the default's runs (auto_len, NULL
 * when the count was asked for), else one L3 group each when the counts
 * match, else consecutive runs of (nearly) equal length; with more shards
 * than CPUs, shards share them round robin. */
static void split_cpus(const int *order, unsigned ncpus, const unsigned *glen,
		       unsigned ngroups, const unsigned *auto_len, unsigned nshards,
		       struct shard_cpus *sc)
{
	unsigned at = 0;

	for (unsigned s = 0; s < nshards; s++) {
		unsigned len;

		if (auto_len)
			len = auto_len[s];
		else if (nshards == ngroups)
			len = glen[s];
		else if (nshards > ncpus)
			len = 1;
		else
			len = ncpus / nshards + (s < ncpus % nshards);
		sc->off[s] = s ? sc->off[s - 1] + sc->len[s - 1] : 0;
		sc->len[s] = len;
		for (unsigned i = 0; i < len; i++)
			sc->cpu[sc->off[s] + i] = order[(at + i) % ncpus];
		at += len;
	}
}

/* Workers per shard: as asked, spread evenly; else one per CPU of the
 * shard less one (at least one), or all but the acceptor's CPU when that
 * was given. */
static void count_workers(const struct placement_ask *ask, const struct shard_cpus *sc,
			  unsigned nshards, struct placement *p)
{
	unsigned total = 0;

	for (unsigned s = 0; s < nshards; s++) {
		unsigned n = sc->len[s];

		if (ask->workers) {
			n = ask->workers / nshards + (s < ask->workers % nshards);
		} else if (ask->pin && ask->nacceptor_cpu) {
			for (unsigned i = 0; i < sc->len[s]; i++)
				if (sc->cpu[sc->off[s] + i] == ask->acceptor_cpu[s])
					n--;
		} else {
			n--;
		}
		p->shard[s].nworkers = n ? n : 1;
		total += p->shard[s].nworkers;
	}
	/* At most PLACEMENT_MAX_WORKERS: trim the largest shards. */
	while (total > PLACEMENT_MAX_WORKERS) {
		unsigned big = 0;

		for (unsigned s = 1; s < nshards; s++)
			if (p->shard[s].nworkers > p->shard[big].nworkers)
				big = s;
		p->shard[big].nworkers--;
		total--;
	}
	p->nworkers = total;
	for (unsigned s = 0; s < nshards; s++)
		p->shard[s].first_worker = s ? p->shard[s - 1].first_worker +
					       p->shard[s - 1].nworkers : 0;
}

/* Pins shard s: its acceptor, then its workers round robin over the CPUs
 * the acceptor leaves them. */
static void pin_shard(const struct placement_ask *ask, const struct shard_cpus *sc,
		      unsigned s, struct placement *p)
{
	struct placement_shard *sh = &p->shard[s];
	const int *cpus = &sc->cpu[sc->off[s]];
	int rest[CPU_SETSIZE + 1];
	unsigned nrest = 0;

	if (ask->nacceptor_cpu) {
		sh->cpu = ask->acceptor_cpu[s];
		for (unsigned i = 0; i < sc->len[s]; i++)
			if (cpus[i] != sh->cpu)
				rest[nrest++] = cpus[i];
		if (!nrest)
			rest[nrest++] = sh->cpu;
	} else {
		bool own = sc->len[s] >= PLACEMENT_OWN_MIN && sh->nworkers < sc->len[s];

		sh->cpu = cpus[0];
		for (unsigned i = own ? 1 : 0; i < sc->len[s]; i++)
			rest[nrest++] = cpus[i];
	}
	for (unsigned i = 0; i < sh->nworkers; i++)
		p->worker_cpu[sh->first_worker + i] = rest[i % nrest];
}

/* A worker may spin alone on its CPU; unpinned, when every thread could
 * have a CPU of its own. */
static void decide_spin(const struct placement_ask *ask, unsigned ncpus,
			struct placement *p)
{
	unsigned users[CPU_SETSIZE];

	if (!ask->pin) {
		for (unsigned w = 0; w < p->nworkers; w++)
			p->worker_spin[w] = p->nworkers + p->nshards <= ncpus;
		return;
	}
	memset(users, 0, sizeof(users));
	for (unsigned s = 0; s < p->nshards; s++)
		users[p->shard[s].cpu]++;
	for (unsigned w = 0; w < p->nworkers; w++)
		users[p->worker_cpu[w]]++;
	for (unsigned w = 0; w < p->nworkers; w++)
		p->worker_spin[w] = users[p->worker_cpu[w]] == 1;
}

int placement_plan(const struct placement_topo *t, const struct placement_ask *ask,
		   struct placement *p, char *err, size_t errlen)
{
	static const struct placement_topo one = { .ncpus = 1, .cpu = { 0 }, .l3 = { -1 } };
	int order[CPU_SETSIZE];
	unsigned glen[PLACEMENT_MAX_SHARDS], auto_len[PLACEMENT_MAX_SHARDS];
	unsigned ngroups, nshards;
	struct shard_cpus sc;
	bool chosen;

	memset(p, 0, sizeof(*p));
	if (t->ncpus == 0)
		t = &one;                     /* nothing known: one CPU */
	if (ask->workers && ask->acceptors > ask->workers)
		return log_to_buf(err, errlen, "--workers %u is fewer than --acceptors %u: "
			    "each acceptor needs a worker of its own",
			    ask->workers, ask->acceptors);
	ngroups = group_cpus(t, order, glen);
	nshards = ask->acceptors;
	chosen = !nshards;
	if (chosen)
		nshards = auto_shards(glen, ngroups, auto_len);
	if (chosen && ask->workers && nshards > ask->workers) {
		/* Fewer workers than shards: one shard per worker, over the
		 * groups' CPUs in equal runs. */
		nshards = ask->workers;
		chosen = false;
	}
	if (ask->pin && ask->nacceptor_cpu && ask->nacceptor_cpu != nshards)
		return log_to_buf(err, errlen, "--acceptor-cpu names %u CPU(s) for %u acceptor(s)",
			    ask->nacceptor_cpu, nshards);
	p->nshards = nshards;
	split_cpus(order, t->ncpus, glen, ngroups, chosen ? auto_len : NULL,
		   nshards, &sc);
	count_workers(ask, &sc, nshards, p);
	for (unsigned s = 0; s < nshards; s++) {
		if (ask->pin) {
			pin_shard(ask, &sc, s, p);
			continue;
		}
		p->shard[s].cpu = -1;
		for (unsigned i = 0; i < p->shard[s].nworkers; i++)
			p->worker_cpu[p->shard[s].first_worker + i] = -1;
	}
	decide_spin(ask, t->ncpus, p);
	return 0;
}

/* ---- the machine's shape ------------------------------------------------ */

static bool read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

/* The lowest CPU sharing cpu's level-3 cache, or -1. */
static int l3_group(const char *sysfs, int cpu)
{
	char path[512], line[4096];
	cpu_set_t set;

	for (int idx = 0; idx < 16; idx++) {
		snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/cache/index%d/level",
			 sysfs, cpu, idx);
		if (!read_line(path, line, sizeof(line)))
			return -1;
		if (strcmp(line, "3") != 0)
			continue;
		snprintf(path, sizeof(path),
			 "%s/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list",
			 sysfs, cpu, idx);
		if (!read_line(path, line, sizeof(line)) || cfg_parse_cpus(line, &set))
			return -1;
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				return i;
	}
	return -1;
}

void placement_read_topo(const char *sysfs, const cpu_set_t *cpus,
			 struct placement_topo *t)
{
	t->ncpus = 0;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, cpus))
			continue;
		t->cpu[t->ncpus] = i;
		t->l3[t->ncpus] = l3_group(sysfs, i);
		t->ncpus++;
	}
}

static void put_cpu(char *buf, size_t len, size_t *at, int cpu)
{
	int n = cpu < 0 ? snprintf(buf + *at, len - *at, "any")
			: snprintf(buf + *at, len - *at, "%d", cpu);

	*at = n < 0 || (size_t)n >= len - *at ? len : *at + (size_t)n;
}

void placement_describe(const struct placement *p, unsigned s, char *out, size_t len)
{
	const struct placement_shard *sh = &p->shard[s];
	size_t at = 0;
	int n;

	if (len < 4)
		return;
	n = snprintf(out, len, "shard %u: acceptor cpu ", s);
	at = n < 0 ? len : (size_t)n;
	if (at < len)
		put_cpu(out, len, &at, sh->cpu);
	for (unsigned i = 0; i < sh->nworkers && at < len; i++) {
		unsigned w = sh->first_worker + i;

		n = snprintf(out + at, len - at, "%s w%u cpu ", i ? "," : ";", w);
		at = n < 0 || (size_t)n >= len - at ? len : at + (size_t)n;
		if (at < len)
			put_cpu(out, len, &at, p->worker_cpu[w]);
		if (at < len) {
			n = snprintf(out + at, len - at, " spin %s",
				     p->worker_spin[w] ? "on" : "off");
			at = n < 0 || (size_t)n >= len - at ? len : at + (size_t)n;
		}
	}
	if (at >= len)
		memcpy(out + len - 4, "...", 4);
}
