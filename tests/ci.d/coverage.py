#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Judges a gcovr JSON report (tests/ci.d/coverage.sh makes it).

Prints, per file of the server and of blast, lines and branches covered,
then fails (exit 1) when
  - a file is below its floor (FLOORS: lines %, branches %), or a file the
    table names has no coverage data at all;
  - a path named in MUST_RUN never executed.  Each is found by a piece of
    its source text (unique in the file) and a line offset from it, so a
    change to the code that moves or removes it fails here loudly and the
    entry is updated with the code.
Usage: coverage.py REPORT.json SRCDIR"""
import json
import os
import sys

# Set from a run of the whole `make check` with --enable-coverage, a little
# below what it reached (threads make a few lines timing-dependent); a file
# not listed gets SERVER_LINE_FLOOR (server) or nothing (blast).  Every
# server file: at least 90 % of its lines.
FLOORS = {
    # server                   reached (lines/branches %, make check)
    "core/base/chain.c": (98, 92),      # 100.0 / 95.5
    "core/base/chain.h": (98, 97),      # 100.0 / 100.0
    "core/base/clock.c": (98, 47),      # 100.0 / 50.0
    "core/base/clock.h": (98, 97),      # 100.0 / 100.0
    "core/base/counters.c": (93, 83),   # 95.3 / 86.4
    "core/base/counters.h": (98, 97),   # 100.0 / 100.0
    "core/base/fmt.c": (98, 97),        # 100.0 / 100.0
    "core/base/log.c": (98, 93),        # 100.0 / 96.2
    "core/base/mem.h": (94, 84),        # 96.7 / 87.5
    "core/base/proc.c": (90, 69),       # 91.8 / 72.2 (test_proc; the rest: /proc unreadable)
    "core/base/sbuf.h": (98, 97),       # 100.0 / 100.0
    "core/cfg.c": (96, 87),             # 98.3 / 90.7
    "core/cfgfile.c": (96, 94),         # 98.6 / 97.1
    "core/connection.c": (93, 82),      # 95.6 / 85.8
    "core/lifecycle.c": (90, 69),       # 90.8 / 81.2 (a shard; the rest: ENOMEM and errno paths)
    "core/listener.c": (91, 67),        # 93.5 / 70.6
    "core/main.c": (90, 83),            # 92.5 / 86.4
    "core/notify.c": (93, 81),          # 95.3 / 84.1
    "core/reclaim.c": (92, 90),         # 94.4 / 93.8
    "core/startup.c": (91, 74),         # 93.1 / 77.8
    "http/framing.c": (97, 88),         # 99.3 / 91.4
    "http/response.c": (98, 97),        # 100.0 / 100.0
    "http/route.c": (96, 92),           # 98.7 / 95.0
    "http/routes.def": (98, 97),        # 100.0 / 100.0
    "queue/conn.c": (98, 76),           # 100.0 / 79.2
    "queue/queue.c": (96, 88),          # 98.8 / 91.2
    "queue/queue.h": (98, 97),          # 100.0 / 100.0
    "workers/accesslog.c": (93, 82),    # 95.8 / 85.3
    "workers/admin.c": (98, 97),        # 100.0 / 100.0
    "workers/endpoints.c": (98, 97),    # 100.0 / 100.0
    "workers/heap.c": (98, 97),         # 100.0 / 100.0
    "workers/metric.c": (98, 97),       # 100.0 / 100.0
    "workers/outbox.c": (95, 88),       # 96.6 / 88.8
    "workers/slab.c": (98, 97),         # 100.0 / 100.0
    "workers/slab.h": (98, 72),         # 100.0 / 75.0
    "workers/stack.c": (98, 97),        # 100.0 / 100.0
    "workers/telemetry.c": (97, 95),    # 99.6 / 98.9
    "workers/worker.c": (96, 87),       # 98.9 / 90.1
    # blast (its tests are tests/blast/)
    "tools/blast/busypoll.c": (89, 76), # 91.7 / 79.2
    "tools/blast/busypoll.h": (98, 97), # 100.0 / 100.0
    "tools/blast/chart.c": (91, 85),    # 93.5 / 88.1
    "tools/blast/cli.c": (93, 80),      # 95.0 / 83.2
    "tools/blast/now.h": (98, 97),    # 100.0 / 100.0
    "tools/blast/client.c": (86, 77),     # 89.0 / 80.9
    "tools/blast/engine.c": (85, 72),   # 96.6 / 83.0; 88.8 / 76.3 on a busy machine (busy-poll runs only with a spare CPU)
    "tools/blast/hdrlog.c": (90, 79),   # 92.6 / 82.0
    "tools/blast/hist.c": (95, 89),     # 97.0 / 92.1
    "tools/blast/hist.h": (98, 97),     # 100.0 / 100.0
    "tools/blast/json.c": (88, 74),     # 90.4 / 77.5
    "tools/blast/jsonout.c": (96, 90),  # 98.8 / 93.2
    "tools/blast/main.c": (84, 77),     # 87.0 / 80.2
    "tools/blast/merge.c": (84, 65),    # 87.0 / 68.9
    "tools/blast/output.c": (77, 70),   # 79.5 / 73.4
    "tools/blast/parse.c": (97, 85),    # 99.2 / 88.5
    "tools/blast/request.c": (92, 87),  # 95.0 / 90.3
    "tools/blast/request.h": (98, 97),  # 100.0 / 100.0
    "tools/blast/resp.c": (92, 80),     # 94.7 / 83.8
    "tools/blast/sched.c": (84, 67),    # 86.7 / 70.0
    "tools/blast/sched.h": (98, 97),    # 100.0 / 100.0
    "tools/blast/series.c": (93, 81),   # 95.4 / 84.8
    "tools/blast/tally.c": (96, 84),    # 98.1 / 87.5
    "tools/blast/tally.h": (79, 47),    # 81.8 / 50.0
    "tools/blast/target.c": (86, 80),   # 88.2 / 83.9
    "tools/blast/tls.c": (73, 46),      # 75.0 / 49.2
    "tools/blast/url.c": (92, 84),      # 95.0 / 87.7
    "tools/blast/view.c": (93, 73),     # 95.5 / 76.9
    "tools/blast/wire.c": (89, 64),     # 91.7 / 67.9
}
SERVER_LINE_FLOOR = 90

# (file, unique source text, line offset from it, what it is)
MUST_RUN = [
    ("core/connection.c", "ck_pr_load_uint(&c->inflight) < a->cfg->max_pipeline &&", 2,
     "pipeline-pause race: the worker drained between the check and the pause"),
    ("core/connection.c", "if (c->gen != nt.gen || c->state != CONN_OPEN)", 1,
     "a stale note (its connection is gone) is ignored"),
    ("core/control.c", "log_warn(\"shutdown timeout: %u connection(s) still busy", 2,
     "the shutdown timeout"),
    ("core/lifecycle.c", "if (!c->blocked && !c->wait_resume)", 1,
     "SIGTERM with a connection open"),
    ("core/connection.c", "/* No worker ever saw it: close it here. */", 1,
     "a connection that never sent a whole request is closed by the acceptor"),
    ("core/connection.c", "CNT_ADD(a->ctr.read_budget_yields, 1);", 0,
     "a connection yields after FRAME_BUDGET requests in one turn"),
    ("core/connection.c", "CNT_ADD(a->ctr.ring_full, 1);", 0,
     "a full ring: the connection waits in line"),
    ("core/control.c", "log_warn(\"reload: %s changed: restart required", 0,
     "reload warnings (restart required)"),
    ("core/control.c", "alog_open(&s->alog, s->cfg->access_log);", 0,
     "the access log switched or reopened on reload"),
    ("core/control.c", "log_warn(\"access log: %llu line(s) dropped", 0,
     "dropped access-log lines are warned about"),
    ("core/lifecycle.c", "CNT_ADD(a->ctr.reloads, 1);", 0,
     "a shard applies a reload"),
    ("core/listener.c", "(struct listener){ .fd = s->inherited[k], .shared = true };", 0,
     "socket activation: every shard watches the inherited sockets"),
    ("core/listener.c", "__atomic_sub_fetch(a->open_total, 1, __ATOMIC_RELAXED);", 0,
     "--max-conns across shards: a connection over the limit"),
    ("workers/worker.c", "CNT_ADD(w->cnt.w.spins_caught, 1);", 0,
     "an idle spin caught work"),
    ("core/listener.c", "snprintf(out, len, \"[%s]:%u\", host, ntohs(s6->sin6_port));", 0,
     "IPv6 listen"),
    ("workers/accesslog.c", "__atomic_store_n(&r->dropped, r->dropped + 1, __ATOMIC_RELAXED);", 0,
     "access-log ring full: the line is dropped and counted"),
    ("workers/accesslog.c", "int fd = open_path(path);", 0,
     "the logger reopens its file"),
    ("workers/accesslog.c", "if (w < 0 && errno == EAGAIN)", 1,
     "a log reader that stopped reading: the logger does not wait"),
    ("workers/admin.c", "return reply_copy(ctx, 500, CT_JSON, too_big, sizeof(too_big) - 1);", 0,
     "/stats that does not fit its buffer: 500"),
    ("workers/worker.c", "CNT_ADD(w->cnt.w.shutdown_refused, 1);", 0,
     "past the shutdown timeout: 503 and close"),
    ("workers/worker.c", "CNT_ADD(w->cnt.w.send_timeouts, 1);", 0,
     "the send timeout closes a connection"),
    ("workers/outbox.c", "CNT_ADD(w->cnt.w.dropped, 1);", 0,
     "a dead peer's requests are dropped"),
    ("workers/outbox.c", "CNT_ADD(w->cnt.w.held, 1);", 0,
     "requests held over --max-unsent-bytes"),
    ("workers/outbox.c", "CNT_ADD(w->cnt.w.partial_writes, 1);", 0,
     "a partial write parks the rest"),
]


def pct(n, d):
    return 100.0 * n / d if d else 100.0


def summarize(entry):
    lines = [l for l in entry["lines"] if not l.get("gcovr/noncode") and
             not l.get("gcovr/excluded")]
    lt, lc = len(lines), sum(1 for l in lines if l["count"] > 0)
    br = [b for l in lines for b in l["branches"] if not b.get("throw")]
    bt, bc = len(br), sum(1 for b in br if b["count"] > 0)
    return lc, lt, bc, bt


def find_line(srcdir, path, text, offset):
    try:
        with open(os.path.join(srcdir, path)) as f:
            src = f.read().splitlines()
    except OSError as e:
        return None, f"cannot read {path}: {e}"
    hits = [i + 1 for i, l in enumerate(src) if text in l]
    if len(hits) != 1:
        return None, f"'{text}' occurs {len(hits)} times in {path} (update MUST_RUN)"
    return hits[0] + offset, None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    srcdir = sys.argv[2]
    files = {e["file"]: e for e in report["files"]}
    failures = []

    print(f"{'file':<26} {'lines':>13} {'%':>6} {'branches':>13} {'%':>6}   floor")
    total = [0, 0, 0, 0]
    for group in ("core/", "http/", "queue/", "workers/", "tools/blast/"):
        for name in sorted(n for n in set(files) | set(FLOORS) if n.startswith(group)):
            floor = FLOORS.get(name)
            if name not in files:
                print(f"{name:<26} {'no data':>13}")
                failures.append(f"{name}: no coverage data")
                continue
            lc, lt, bc, bt = summarize(files[name])
            if lt == 0:
                continue
            for i, v in enumerate((lc, lt, bc, bt)):
                total[i] += v
            lp, bp = pct(lc, lt), pct(bc, bt)
            mark = ""
            if floor is None:
                if not name.startswith("tools/"):
                    floor = (SERVER_LINE_FLOOR, 0)
                else:
                    floor = (0, 0)
            if lp < floor[0] or bp < floor[1]:
                mark = "  << below"
                failures.append(f"{name}: lines {lp:.1f}% (floor {floor[0]}), "
                                f"branches {bp:.1f}% (floor {floor[1]})")
            if not name.startswith("tools/") and floor[0] < SERVER_LINE_FLOOR:
                mark += "  (server floor < 90%)"
            print(f"{name:<26} {lc:>6}/{lt:<6} {lp:5.1f}% {bc:>6}/{bt:<6} {bp:5.1f}%"
                  f"   {floor[0]}/{floor[1]}{mark}")
    print(f"{'total':<26} {total[0]:>6}/{total[1]:<6} {pct(total[0], total[1]):5.1f}% "
          f"{total[2]:>6}/{total[3]:<6} {pct(total[2], total[3]):5.1f}%")

    print("\npaths that must run:")
    for path, text, offset, what in MUST_RUN:
        line, err = find_line(srcdir, path, text, offset)
        if err:
            failures.append(err)
            print(f"  ??  {what}: {err}")
            continue
        entry = files.get(path)
        counts = [l["count"] for l in entry["lines"] if l["line_number"] == line
                  and not l.get("gcovr/noncode")] if entry else []
        if not counts:
            failures.append(f"{path}:{line} ({what}) is not code")
            print(f"  ??  {path}:{line} {what}: not code")
            continue
        ok = max(counts) > 0
        print(f"  {'ran' if ok else 'NOT':>4} {max(counts):>8}x  {path}:{line}  {what}")
        if not ok:
            failures.append(f"{path}:{line} never ran: {what}")

    if failures:
        print("\nFAIL:")
        for f in failures:
            print("  " + f)
        return 1
    print("\nPASS: every file at or above its floor, every named path ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
