/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/blast/busypoll.h"

int cpu_sample_parse(const char *stat, const char *pressure, struct cpu_sample *out)
{
	unsigned long long v[10] = {0};
	memset(out, 0, sizeof *out);
	if (sscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 4)
		return -1;
	/* guest time is already inside user and nice: not added twice */
	for (int i = 0; i < 8; i++)
		out->total += v[i];
	out->idle = v[3] + v[4];
	for (const char *p = stat; (p = strstr(p, "\ncpu")); p++)
		out->ncpu += p[4] >= '0' && p[4] <= '9';
	if (!out->ncpu)
		out->ncpu = 1;
	const char *t = pressure ? strstr(pressure, "some ") : NULL;
	t = t ? strstr(t, "total=") : NULL;
	if (t) {
		out->pressure_us = strtoull(t + 6, NULL, 10);
		out->has_pressure = 1;
	}
	return 0;
}

double cpu_idle(const struct cpu_sample *a, const struct cpu_sample *b)
{
	if (b->total <= a->total)
		return 0;
	return (double)(b->idle - a->idle) / (double)(b->total - a->total) * b->ncpu;
}

void bp_policy_init(struct bp_policy *p, uint64_t now, const struct cpu_sample *s)
{
	memset(p, 0, sizeof *p);
	p->probing = 1;
	p->period_at = p->step_at = now;
	p->probe_from = p->step_from = *s;
}

int bp_policy_step(struct bp_policy *p, uint64_t now, const struct cpu_sample *s)
{
	if (now - p->period_at >= BP_PERIOD_NS) {
		/* a new second: probe again */
		p->period_at = p->step_at = now;
		p->probing = 1;
		p->allow = 0;
		p->probe_from = p->step_from = *s;
		return 0;
	}
	if (p->probing) {
		if (now - p->period_at < BP_PROBE_NS)
			return 0;
		p->probing = 0;
		p->allow = cpu_idle(&p->probe_from, s) >= BP_MIN_IDLE_CPUS;
		p->step_at = now;
		p->step_from = *s;
		return p->allow;
	}
	if (now - p->step_at >= BP_STEP_NS) {
		if (p->allow && s->has_pressure && p->step_from.has_pressure) {
			double waited = (double)(s->pressure_us - p->step_from.pressure_us) * 1e3 /
					(double)(now - p->step_at);
			if (waited > BP_MAX_PRESSURE)
				p->allow = 0; /* others wait for a CPU: stop until the next probe */
		}
		p->step_at = now;
		p->step_from = *s;
	}
	return p->allow;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

int cpu_sample_read(struct cpu_sample *out)
{
	static _Thread_local char stat[65536];
	char pressure[256];
	if (read_text("/proc/stat", stat, sizeof stat) < 0)
		return -1;
	int has_psi = read_text("/proc/pressure/cpu", pressure, sizeof pressure) == 0;
	if (cpu_sample_parse(stat, has_psi ? pressure : NULL, out) < 0)
		return -1;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online > (long)out->ncpu)
		out->ncpu = (unsigned)online; /* more CPUs than fit in the buffer */
	return 0;
}
