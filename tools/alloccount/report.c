/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alloccount-report - print the counters of an alloccount file.
 *
 *   alloccount-report FILE [--delta BEFORE] [--snapshot OUT] [--json]
 *                    [--symbolize] [--binary PATH] [--top N] [--quiet]
 *
 * FILE is a live counter file (ALLOCCOUNT_FILE of a running or exited
 * process) or a snapshot.  --snapshot OUT writes a copy of FILE as it is
 * now (with the process's maps and thread names, if it still runs);
 * --delta BEFORE prints FILE minus the snapshot BEFORE.
 */
#include <config.h>

#include "tools/alloccount/acread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct opts {
	const char *file, *delta, *snapshot, *binary;
	int json, symbolize, quiet;
	long top;
};

struct site_row {
	struct ac_site_info s;
	char module[1024];
	uint64_t offset;
	int have_module;
	/* From addr2line: frames[2k] function, frames[2k + 1] location;
	 * k = 0 is the innermost (possibly inlined) frame. */
	char **frames;
	size_t nframes;
};

static void usage(FILE *to)
{
	fprintf(to,
		"usage: alloccount-report FILE [--delta BEFORE] [--snapshot OUT] [--json]\n"
		"                         [--symbolize] [--binary PATH] [--top N] [--quiet]\n"
		"  FILE            counter file (ALLOCCOUNT_FILE) or snapshot\n"
		"  --snapshot OUT  write a copy of FILE as it is now to OUT\n"
		"  --delta BEFORE  report FILE minus the snapshot BEFORE\n"
		"  --json          JSON output\n"
		"  --symbolize     resolve call sites with addr2line\n"
		"  --binary PATH   use PATH for the main executable when symbolizing\n"
		"  --top N         sites to show (default: text 20, JSON all; 0 = all)\n"
		"  --quiet         print nothing (with --snapshot)\n");
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : 0;
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* cur := cur - before (cur is a heap copy).  Counters only grow, so
 * this is exact for two views of one process; sub() guards the rest. */
static void make_delta(struct ac_file *cur, const struct ac_file *before)
{
	uint64_t *keys; /* pairs: key, slot */
	size_t n = 0, i, w, first, last;
	unsigned sh;

	cur->hdr.proc.bootstrap_allocs =
		sub(cur->hdr.proc.bootstrap_allocs, before->hdr.proc.bootstrap_allocs);
	cur->hdr.proc.bootstrap_frees =
		sub(cur->hdr.proc.bootstrap_frees, before->hdr.proc.bootstrap_frees);
	/* Thread counters: the words from calls[] up to name[]. */
	first = offsetof(struct ac_thread, calls) / sizeof(uint64_t);
	last = offsetof(struct ac_thread, name) / sizeof(uint64_t);
	for (i = 0; i < AC_MAX_THREADS; i++) {
		uint64_t *t = (uint64_t *)(void *)&cur->threads[i];
		const uint64_t *b = (const uint64_t *)(const void *)&before->threads[i];

		if (cur->threads[i].tid != before->threads[i].tid)
			continue; /* a thread that started after BEFORE */
		for (w = first; w < last; w++)
			t[w] = sub(t[w], b[w]);
	}
	keys = malloc(sizeof(uint64_t) * 2 * AC_SITE_SLOTS);
	if (!keys) {
		perror("alloccount-report");
		exit(2);
	}
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		if (before->site_keys[i]) {
			keys[2 * n] = before->site_keys[i];
			keys[2 * n + 1] = i;
			n++;
		}
	}
	qsort(keys, n, 2 * sizeof(uint64_t), key_cmp);
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		const uint64_t *hit;

		if (!cur->site_keys[i])
			continue;
		hit = bsearch(&cur->site_keys[i], keys, n, 2 * sizeof(uint64_t), key_cmp);
		if (!hit)
			continue;
		for (sh = 0; sh < AC_SITE_SHARDS; sh++) {
			struct ac_site_count *c = &cur->site_counts[sh][i];
			const struct ac_site_count *b = &before->site_counts[sh][hit[1]];

			c->calls = sub(c->calls, b->calls);
			c->bytes = sub(c->bytes, b->bytes);
		}
	}
	free(keys);
}

/* ---- symbolization ---------------------------------------------- */

static int elf_is_exec(const char *path)
{
	unsigned char h[18];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, h, sizeof h);
	close(fd);
	if (n != (ssize_t)sizeof h || memcmp(h, "\177ELF", 4) != 0)
		return 0;
	/* e_type, in the file's byte order (h[5]: 1 = little endian). */
	return (h[5] == 1 ? h[16] | (h[17] << 8) : (h[16] << 8) | h[17]) == 2;
}

static void add_frame(struct site_row *r, const char *func, const char *loc)
{
	char **nf = realloc(r->frames, (r->nframes + 1) * 2 * sizeof *nf);

	if (!nf)
		return;
	r->frames = nf;
	nf[2 * r->nframes] = strdup(func);
	nf[2 * r->nframes + 1] = strdup(loc ? loc : "??");
	if (!nf[2 * r->nframes] || !nf[2 * r->nframes + 1]) {
		free(nf[2 * r->nframes]);
		free(nf[2 * r->nframes + 1]);
		return;
	}
	r->nframes++;
}

static int is_addr_line(const char *s)
{
	if (s[0] != '0' || s[1] != 'x' || !s[2])
		return 0;
	for (s += 2; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* Run addr2line -a -f -i -C -e module addrs... and fill the frames. */
static void symbolize_module(const char *module, struct site_row **rows, size_t n,
			     const uint64_t *addrs)
{
	char **argv;
	int pfd[2];
	pid_t pid;
	char *out = NULL, *line, *save = NULL;
	size_t len = 0, cap = 0, i;
	long rec;
	int status;
	enum { ARG0 = 7 };

	argv = calloc(n + ARG0 + 1, sizeof *argv);
	if (!argv)
		return;
	argv[0] = (char *)"addr2line";
	argv[1] = (char *)"-a"; /* an address line opens each record */
	argv[2] = (char *)"-f";
	argv[3] = (char *)"-i"; /* inline chain: innermost first */
	argv[4] = (char *)"-C";
	argv[5] = (char *)"-e";
	argv[6] = (char *)module;
	for (i = 0; i < n; i++) {
		argv[ARG0 + i] = malloc(24);
		if (!argv[ARG0 + i])
			goto out;
		snprintf(argv[ARG0 + i], 24, "0x%" PRIx64, addrs[i]);
	}
	if (pipe(pfd) != 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		close(pfd[0]);
		close(pfd[1]);
		execvp("addr2line", argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (cap - len < 4096) {
			char *nb = realloc(out, cap ? cap * 2 : 8192);

			if (!nb)
				break;
			out = nb;
			cap = cap ? cap * 2 : 8192;
		}
		r = read(pfd[0], out + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			fprintf(stderr, "alloccount-report: addr2line not found\n");
		goto out;
	}
	out[len] = '\0';
	rec = -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *loc;

		if (is_addr_line(line)) {
			rec++;
			continue;
		}
		if (rec < 0 || (size_t)rec >= n)
			break;
		loc = strtok_r(NULL, "\n", &save);
		add_frame(rows[rec], line, loc);
		if (!loc)
			break;
	}
out:
	for (i = 0; i < n; i++)
		free(argv[ARG0 + i]);
	free(argv);
	free(out);
}

static void symbolize(const struct ac_view *v, struct site_row *rows, size_t n,
		      const char *binary)
{
	struct site_row **grp = malloc(n * sizeof *grp);
	uint64_t *addrs = malloc(n * sizeof *addrs);
	char *done = calloc(n ? n : 1, 1);
	size_t i, j, k;

	if (!grp || !addrs || !done)
		goto out;
	for (i = 0; i < n; i++) {
		const char *module;
		int exec;

		if (done[i] || !rows[i].have_module)
			continue;
		module = rows[i].module;
		if (binary && strcmp(module, ac_exe(v)) == 0)
			module = binary;
		exec = elf_is_exec(module);
		k = 0;
		for (j = i; j < n; j++) {
			if (done[j] || !rows[j].have_module ||
			    strcmp(rows[j].module, rows[i].module) != 0)
				continue;
			done[j] = 1;
			grp[k] = &rows[j];
			/* Return address - 1: inside the call instruction. */
			addrs[k] = (exec ? rows[j].s.addr : rows[j].offset) - 1;
			k++;
		}
		symbolize_module(module, grp, k, addrs);
	}
out:
	free(grp);
	free(addrs);
	free(done);
}

/* ---- output -------------------------------------------------------- */

static void json_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
}

static int row_cmp(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	if (x->s.calls != y->s.calls)
		return x->s.calls < y->s.calls ? 1 : -1;
	if (x->s.bytes != y->s.bytes)
		return x->s.bytes < y->s.bytes ? 1 : -1;
	return x->s.addr < y->s.addr ? -1 : x->s.addr > y->s.addr;
}

static const char *stat_label[AC_STAT_COUNT] = {
	"failed", "cross-thread frees", "cross-thread reallocs",
	"untracked allocs", "untracked frees", "bootstrap allocs",
	"bootstrap frees", "site other calls", "site other bytes", "threads",
};

static void print_text(const struct ac_view *v, const struct opts *o, int alive,
		       struct site_row *rows, size_t nrows)
{
	struct ac_thread_info ti;
	unsigned fn, i;
	size_t k, shown;
	uint64_t fl = ac_flags(v);

	printf("alloccount: pid %lld %s (%s, cross-thread tracking %s)%s%s\n",
	       (long long)ac_pid(v), ac_exe(v),
	       alive ? "running" : (fl & AC_F_EXITED) ? "exited" : "not running",
	       (fl & AC_F_XTHREAD) ? "on" : "off", o->delta ? ", delta from " : "",
	       o->delta ? o->delta : "");
	printf("\ntotals:\n  %-16s %15s %17s\n", "function", "calls", "bytes");
	for (fn = 0; fn < AC_FN_COUNT; fn++)
		printf("  %-16s %15" PRIu64 " %17" PRIu64 "\n", ac_fn_name(fn),
		       ac_total(v, (enum ac_fn)fn), ac_total_bytes(v, (enum ac_fn)fn));
	printf("  %-16s %15" PRIu64 " %17" PRIu64 "\n", "(allocations)", ac_allocs(v),
	       ac_bytes(v));
	for (i = 0; i < AC_STAT_COUNT; i++)
		printf("  %-22s %9" PRIu64 "\n", stat_label[i], ac_stat(v, (enum ac_stat)i));

	printf("\nthreads:\n  %4s %8s %-16s %10s %10s %10s %14s %9s %9s\n", "slot", "tid",
	       "name", "allocs", "frees", "free(NULL)", "bytes", "xfree-in", "xfree-out");
	for (i = 0; i < AC_MAX_THREADS; i++) {
		if (ac_thread(v, i, &ti) != 0)
			continue;
		printf("  %4u %8lld %-16s %10" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %14" PRIu64 " %9" PRIu64 " %9" PRIu64 "%s\n",
		       ti.idx, (long long)ti.tid,
		       i == AC_THREAD_OVERFLOW ? "(other threads)"
		       : ti.name[0]	       ? ti.name
					       : "?",
		       ti.allocs, ti.calls[AC_FREE], ti.calls[AC_FREE_NULL], ti.bytes,
		       ti.xfree_in, ti.xfree_out,
		       (ti.flags & AC_TF_EXITED) ? "  (exited)" : "");
	}

	shown = (o->top > 0 && (size_t)o->top < nrows) ? (size_t)o->top : nrows;
	printf("\nsites: %zu with calls, %zu shown; other: calls %" PRIu64 " bytes %" PRIu64
	       "\n",
	       nrows, shown, ac_stat(v, AC_STAT_SITE_OTHER_CALLS),
	       ac_stat(v, AC_STAT_SITE_OTHER_BYTES));
	printf("  %12s %16s %-15s %-18s %s\n", "calls", "bytes", "function", "address",
	       "module+offset");
	for (k = 0; k < shown; k++) {
		const struct site_row *r = &rows[k];

		printf("  %12" PRIu64 " %16" PRIu64 " %-15s 0x%-16" PRIx64, r->s.calls,
		       r->s.bytes, ac_fn_name(r->s.fn), r->s.addr);
		if (r->have_module)
			printf(" %s+0x%" PRIx64, r->module, r->offset);
		for (i = 0; i < r->nframes; i++)
			printf("%s%s at %s", i ? ", inlined into " : "  ", r->frames[2 * i],
			       r->frames[2 * i + 1]);
		printf("\n");
	}
}

static void print_json(const struct ac_view *v, const struct opts *o, int alive,
		       struct site_row *rows, size_t nrows)
{
	struct ac_thread_info ti;
	unsigned fn, i;
	size_t k;
	int first;
	uint64_t fl = ac_flags(v);

	printf("{\"version\":%u,\"pid\":%lld,\"exe\":", AC_VERSION, (long long)ac_pid(v));
	json_str(stdout, ac_exe(v));
	printf(",\"alive\":%s,\"exited\":%s,\"xthread\":%s,\"delta\":",
	       alive ? "true" : "false", (fl & AC_F_EXITED) ? "true" : "false",
	       (fl & AC_F_XTHREAD) ? "true" : "false");
	if (o->delta)
		json_str(stdout, o->delta);
	else
		printf("null");
	printf(",\n \"totals\":{");
	for (fn = 0; fn < AC_FN_COUNT; fn++) {
		printf("%s", fn ? "," : "");
		json_str(stdout, ac_fn_name(fn));
		printf(":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
		       ac_total(v, (enum ac_fn)fn), ac_total_bytes(v, (enum ac_fn)fn));
	}
	printf(",\"allocs\":%" PRIu64 ",\"bytes\":%" PRIu64, ac_allocs(v), ac_bytes(v));
	for (i = 0; i < AC_STAT_COUNT; i++)
		printf(",\"%s\":%" PRIu64, ac_stat_name((enum ac_stat)i),
		       ac_stat(v, (enum ac_stat)i));
	printf("},\n \"threads\":[");
	first = 1;
	for (i = 0; i < AC_MAX_THREADS; i++) {
		if (ac_thread(v, i, &ti) != 0)
			continue;
		printf("%s\n  {\"slot\":%u,\"tid\":%lld,\"name\":", first ? "" : ",", ti.idx,
		       (long long)ti.tid);
		first = 0;
		json_str(stdout, ti.name);
		printf(",\"overflow\":%s,\"exited\":%s,\"calls\":{",
		       i == AC_THREAD_OVERFLOW ? "true" : "false",
		       (ti.flags & AC_TF_EXITED) ? "true" : "false");
		for (fn = 0; fn < AC_FN_COUNT; fn++) {
			printf("%s", fn ? "," : "");
			json_str(stdout, ac_fn_name(fn));
			printf(":%" PRIu64, ti.calls[fn]);
		}
		printf("},\"bytes_by_fn\":{");
		for (fn = 0; fn < AC_FN_COUNT; fn++) {
			printf("%s", fn ? "," : "");
			json_str(stdout, ac_fn_name(fn));
			printf(":%" PRIu64, ti.bytes_fn[fn]);
		}
		printf("},\"allocs\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"xfree_in\":%" PRIu64 ",\"xfree_out\":%" PRIu64
		       ",\"xrealloc_in\":%" PRIu64 ",\"untracked_allocs\":%" PRIu64
		       ",\"untracked_frees\":%" PRIu64 ",\"site_other_calls\":%" PRIu64
		       ",\"site_other_bytes\":%" PRIu64 "}",
		       ti.allocs, ti.bytes, ti.failed, ti.xfree_in, ti.xfree_out,
		       ti.xrealloc_in, ti.untracked_allocs, ti.untracked_frees,
		       ti.site_other_calls, ti.site_other_bytes);
	}
	printf("],\n \"sites_with_calls\":%zu,\n \"sites\":[", nrows);
	if (o->top > 0 && (size_t)o->top < nrows)
		nrows = (size_t)o->top;
	for (k = 0; k < nrows; k++) {
		const struct site_row *r = &rows[k];

		printf("%s\n  {\"addr\":\"0x%" PRIx64 "\",\"fn\":", k ? "," : "", r->s.addr);
		json_str(stdout, ac_fn_name(r->s.fn));
		printf(",\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64, r->s.calls, r->s.bytes);
		if (r->have_module) {
			printf(",\"module\":");
			json_str(stdout, r->module);
			printf(",\"offset\":\"0x%" PRIx64 "\"", r->offset);
		}
		if (r->nframes) {
			size_t j;

			printf(",\"function\":");
			json_str(stdout, r->frames[0]);
			printf(",\"location\":");
			json_str(stdout, r->frames[1]);
			printf(",\"inlined_into\":[");
			for (j = 1; j < r->nframes; j++) {
				printf("%s{\"function\":", j > 1 ? "," : "");
				json_str(stdout, r->frames[2 * j]);
				printf(",\"location\":");
				json_str(stdout, r->frames[2 * j + 1]);
				printf("}");
			}
			printf("]");
		}
		printf("}");
	}
	printf("],\n \"site_other\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 "}}\n",
	       ac_stat(v, AC_STAT_SITE_OTHER_CALLS), ac_stat(v, AC_STAT_SITE_OTHER_BYTES));
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof *o);
	o->top = -1; /* text: 20, JSON: all */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = 1;
		} else if (strcmp(a, "--symbolize") == 0) {
			o->symbolize = 1;
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			o->quiet = 1;
		} else if ((strcmp(a, "--delta") == 0 || strcmp(a, "--snapshot") == 0 ||
			    strcmp(a, "--binary") == 0 || strcmp(a, "--top") == 0)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "alloccount-report: %s needs an argument\n", a);
				return -1;
			}
			if (strcmp(a, "--delta") == 0) {
				o->delta = argv[++i];
			} else if (strcmp(a, "--snapshot") == 0) {
				o->snapshot = argv[++i];
			} else if (strcmp(a, "--binary") == 0) {
				o->binary = argv[++i];
			} else {
				char *end;

				o->top = strtol(argv[++i], &end, 10);
				if (*end || o->top < 0) {
					fprintf(stderr, "alloccount-report: bad --top\n");
					return -1;
				}
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "alloccount-report: unknown option %s\n", a);
			return -1;
		} else if (!o->file) {
			o->file = a;
		} else {
			fprintf(stderr, "alloccount-report: more than one FILE\n");
			return -1;
		}
	}
	if (!o->file) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct ac_view live, cur, before;
	struct site_row *rows;
	size_t nrows = 0, k;
	unsigned i;
	int alive;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (o.snapshot) {
		struct stat a, b;

		if (stat(o.file, &a) == 0 && stat(o.snapshot, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			fprintf(stderr, "alloccount-report: --snapshot would replace %s\n",
				o.file);
			return 2;
		}
	}
	if (ac_open(o.file, &live) != 0) {
		fprintf(stderr, "alloccount-report: %s: %s\n", o.file,
			errno == EAGAIN	  ? "not initialised (yet)"
			: errno == EPROTO ? "not an alloccount file of this version"
					  : strerror(errno));
		return 1;
	}
	alive = ac_alive(&live);
	if (ac_snapshot(&live, &cur) != 0) {
		perror("alloccount-report");
		return 1;
	}
	ac_close(&live);
	/* Open BEFORE first: --snapshot may name the same file (rolling
	 * deltas: --delta last --snapshot last). */
	if (o.delta && ac_open(o.delta, &before) != 0) {
		fprintf(stderr, "alloccount-report: %s: %s\n", o.delta,
			errno == EAGAIN || errno == EPROTO
				? "not an alloccount snapshot of this version"
				: strerror(errno));
		return 1;
	}
	if (o.snapshot && ac_write(&cur, o.snapshot) != 0) {
		fprintf(stderr, "alloccount-report: cannot write %s: %s\n", o.snapshot,
			strerror(errno));
		return 1;
	}
	if (o.delta) {
		if (ac_pid(&before) != ac_pid(&cur) ||
		    before.f->hdr.start_ns != cur.f->hdr.start_ns) {
			fprintf(stderr,
				"alloccount-report: %s is of another process (pid %lld, not %lld)\n",
				o.delta, (long long)ac_pid(&before), (long long)ac_pid(&cur));
			return 1;
		}
		make_delta(cur.owned, before.f);
		ac_close(&before);
	}
	if (o.quiet)
		goto done;
	if (o.top < 0)
		o.top = o.json ? 0 : 20;

	rows = calloc(AC_SITE_SLOTS, sizeof *rows);
	if (!rows) {
		perror("alloccount-report");
		return 1;
	}
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		struct site_row *r = &rows[nrows];

		if (ac_site(&cur, i, &r->s) != 0 || r->s.calls == 0)
			continue;
		r->have_module = ac_addr_module(&cur, r->s.addr, r->module, sizeof r->module,
						&r->offset) == 0;
		nrows++;
	}
	qsort(rows, nrows, sizeof *rows, row_cmp);
	if (o.symbolize) {
		size_t nsym = (o.top > 0 && (size_t)o.top < nrows) ? (size_t)o.top : nrows;

		symbolize(&cur, rows, nsym, o.binary);
	}
	if (o.json)
		print_json(&cur, &o, alive, rows, nrows);
	else
		print_text(&cur, &o, alive, rows, nrows);
	for (k = 0; k < nrows; k++) {
		size_t j;

		for (j = 0; j < 2 * rows[k].nframes; j++)
			free(rows[k].frames[j]);
		free(rows[k].frames);
	}
	free(rows);
done:
	ac_close(&cur);
	if (fflush(stdout) != 0) {
		perror("alloccount-report");
		return 1;
	}
	return 0;
}
