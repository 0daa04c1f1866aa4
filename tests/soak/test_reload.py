#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""SIGHUP reloads.

  settings that need a restart (workers, max-conns, ring-size, ...) changed
      in the file: one warning each, "restart required (keeping the running
      value)", and the running value is kept (/stats still shows it); the
      runtime ones in the same file take effect
  a file that does not parse: "reload failed", everything kept
  logrotate with a broken file: the access log is renamed, the file does
      not parse, SIGHUP: the log is still reopened under its path, so the
      next lines go to a new file there
  RELOADS reloads while CONNS connections pipeline requests without a
      pause, on both paths: every request is answered, in order, none lost;
      on each connection the Server header (a new one per reload) never
      goes back to an older generation, every generation answers some, and
      after the last reload every connection gets the last one"""
import os
import signal
import tempfile
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

CONNS = 6
RELOADS = 8
BATCH = 20


def wait_log(srv, text, timeout=20):
    """Until a log line contains text (a hang guard, not a timing)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(text in l for l in srv.log):
            return True
        time.sleep(0.01)
    return False


def restart_settings(tmp):
    conf = os.path.join(tmp, "restart.conf")
    with open(conf, "w") as f:
        f.write("workers = 1\nserver-header = before\n")
    with Server("--config", conf) as srv:
        with open(conf, "w") as f:
            f.write("workers = 2\nmax-conns = 100\nring-size = 8\nmax-pipeline = 3\n"
                    "no-pin = false\nserver-header = after\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, "(generation 2)"), "the reload took effect")
        warned = [l.split("reload: ", 1)[1] for l in srv.log if "restart required" in l]
        info("; ".join(warned))
        for key in ("workers", "max-conns", "ring-size", "max-pipeline"):
            check(sum(f"{key} changed: restart required (keeping the running value)" in w
                      for w in warned) == 1, f"one warning for {key}")
        # --no-pin came from the command line (soaklib): it wins, no warning.
        check(not any("no-pin" in w for w in warned), "no warning for what the command line set")
        st = srv.stats()
        check(st["workers"] == 1, f"the running worker count is kept ({st['workers']})")
        c = Conn(srv.port)
        c.send(req("/healthz"))
        check(c.response().headers.get("server") == "after", "the runtime setting changed")

        with open(conf, "w") as f:
            f.write("server-header = never\nworkers = lots\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, "reload failed, keeping the running configuration"),
              "a file that does not parse: reload failed")
        c.send(req("/healthz"))
        check(c.response().headers.get("server") == "after", "... and nothing changed")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def rotate_with_a_broken_file(tmp):
    log = os.path.join(tmp, "access.log")
    conf = os.path.join(tmp, "rotate.conf")
    with open(conf, "w") as f:
        f.write(f"access-log = {log}\n")
    with Server("--config", conf) as srv:
        c = Conn(srv.port)
        c.send(req("/metric-stack?id=1"))
        c.response()
        deadline = time.time() + 10              # a hang guard: the logger's tick
        while time.time() < deadline and not (os.path.exists(log) and os.path.getsize(log)):
            time.sleep(0.02)
        os.rename(log, log + ".1")               # what logrotate does
        with open(conf, "w") as f:
            f.write(f"access-log = {log}\nworkers = lots\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, "reload failed, keeping the running configuration"),
              "the rotated file's reload fails (the file does not parse)")
        k = 1
        deadline = time.time() + 10
        while time.time() < deadline and not (os.path.exists(log) and os.path.getsize(log)):
            k += 1
            c.send(req(f"/metric-stack?id={k}"))
            c.response()
            time.sleep(0.02)
        check(os.path.exists(log) and os.path.getsize(log) > 0,
              "after the failed reload the access log is reopened under its path")
        with open(log + ".1") as f:
            old = f.read().splitlines()
        check(any("id=1 " in l for l in old), "the rotated file has the line from before")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


class Client(threading.Thread):
    """Pipelines batches on one connection until told to stop, checking
    every answer; records the generation of each Server header."""

    def __init__(self, port, k):
        super().__init__(daemon=True)
        self.conn = Conn(port, timeout=60)
        self.k = k
        self.stop = threading.Event()
        self.sent = self.answered = 0
        self.errors = []
        self.gens = []

    def batch(self, n):
        paths = [f"/metric-stack?id={self.sent + i}" if i % 2 else
                 f"/metric-heap?id={self.sent + i}" for i in range(n)]
        self.conn.send(b"".join(req(p) for p in paths))
        for i in range(n):
            r = self.conn.response()
            want = b'{"id":%d,' % (self.sent + i)
            if r.status != 200 or not r.body.startswith(want):
                self.errors.append(f"#{self.sent + i}: {r.status} {r.body[:40]!r}")
            gen = int(r.headers.get("server", "gen-0").split("-")[1])
            self.gens.append(gen)
        self.sent += n
        self.answered += n

    def run(self):
        try:
            while not self.stop.is_set():
                self.batch(BATCH)
        except Exception as e:           # reported by the checks
            self.errors.append(repr(e))


def reload_under_load(tmp):
    conf = os.path.join(tmp, "load.conf")
    with open(conf, "w") as f:
        f.write("server-header = gen-1\n")
    with Server("--workers", "2", "--config", conf) as srv:
        clients = [Client(srv.port, k) for k in range(CONNS)]
        for c in clients:
            c.start()
        for g in range(2, RELOADS + 2):
            with open(conf, "w") as f:
                f.write(f"server-header = gen-{g}\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_log(srv, f"(generation {g})"), f"reload {g - 1} took effect")
            # Requests sent after the reload, answered before the next one:
            # each client has at most one batch in flight, so of 2 * CONNS
            # * BATCH answers at least half were asked for after it (a hang
            # guard bounds the wait).
            seen = sum(c.answered for c in clients)
            deadline = time.time() + 30
            while sum(c.answered for c in clients) < seen + 2 * CONNS * BATCH and \
                    time.time() < deadline:
                time.sleep(0.005)
        for c in clients:
            c.stop.set()
        for c in clients:
            c.join(60)
        last = RELOADS + 1
        for c in clients:
            c.batch(2)                   # after the last reload
        sent = sum(c.sent for c in clients)
        answered = sum(c.answered for c in clients)
        info(f"{RELOADS} reloads under {CONNS} pipelining connections: "
             f"{answered} of {sent} answered")
        errors = [e for c in clients for e in c.errors]
        check(not errors, f"every answer whole and in order ({errors[:3]})")
        check(answered == sent, "none lost")
        check(all(c.gens == sorted(c.gens) for c in clients),
              "no connection saw an older Server header after a newer one")
        check(all(c.gens[-1] == last for c in clients),
              f"after the last reload every connection gets gen-{last}")
        seen = {g for c in clients for g in c.gens}
        check(set(range(2, last + 1)) <= seen,
              f"answers came under every generation ({sorted(seen)})")
        heap = srv.stats()["endpoints"]["/metric-heap"]
        check(heap["allocs"] == 3 * heap["requests"],
              f"heap path: 3 allocations per request across the reloads "
              f"({heap['allocs']} for {heap['requests']})")
        for c in clients:
            c.conn.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        restart_settings(tmp)
        rotate_with_a_broken_file(tmp)
        reload_under_load(tmp)
    finish()


if __name__ == "__main__":
    main()
