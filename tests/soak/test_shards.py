#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--acceptors 2 --workers 2: two shards, each an acceptor with a worker of
its own and its own listening socket on the same port (SO_REUSEPORT).

  CONNS connections, one request each: every one answered, and /stats
      says both shards accepted some and both workers answered some (the
      kernel spreads connections by a hash of their addresses: CONNS = 64
      all landing on one shard would be a 1 in 2^63 event)
  --max-conns counts both shards together: with --max-conns 8, of 24
      connections held open 8 are served and 16 closed at once
  RELOADS SIGHUPs while LOAD connections pipeline without a pause: each
      shard applied every one (/stats shards[i].reloads_applied), every
      request is answered in order, and after the last reload every
      connection - on either shard - gets the last Server header
  SIGTERM with DRAIN connections that each just sent a pipelined batch:
      both shards drain, every request is answered, every connection
      then closed, and the process exits 0"""
import os
import signal
import tempfile
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req, sanitized, wait_until

SHARDS = ("--acceptors", "2", "--workers", "2")
CONNS = 64
LOAD = 24                # all on one shard: a 1 in 2^23 event
RELOADS = 5
DRAIN = 32
BATCH = 40 if sanitized() else 100


def wait_log(srv, text, timeout=30):
    return wait_until(lambda: any(text in l for l in srv.log), timeout)


def both_shards_serve():
    with Server(*SHARDS) as srv:
        conns = [Conn(srv.port) for _ in range(CONNS)]
        for i, c in enumerate(conns):
            c.send(req(f"/metric-stack?id={i}"))
        bodies = [c.response().body for c in conns]
        check(all(b.startswith(b'{"id":%d,' % i) for i, b in enumerate(bodies)),
              f"{CONNS} connections, every one answered")
        st = srv.stats()
        shards = st["shards"]
        info("accepted per shard: " + ", ".join(str(s["accepted"]) for s in shards) +
             "; requests per worker: " + ", ".join(str(w["requests"]) for w in st["worker"]))
        check(st["acceptors"] == 2 and len(shards) == 2 and
              [s["workers"] for s in shards] == [1, 1], "two shards of one worker each")
        check(all(s["accepted"] > 0 for s in shards), "both shards accepted connections")
        check(sum(s["accepted"] for s in shards) == st["acceptor"]["accepted"] >= CONNS,
              "the acceptor figures are the shards' sum")
        check([w["shard"] for w in st["worker"]] == [0, 1] and
              all(w["requests"] > 0 for w in st["worker"]),
              "each shard's worker answered requests")
        for c in conns:
            c.close()
        check(srv.stop() == 0, "exit 0")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def max_conns_is_global():
    with Server(*SHARDS, "--max-conns", "8") as srv:
        conns = [Conn(srv.port) for _ in range(24)]
        served = closed = 0
        for i, c in enumerate(conns):
            try:
                c.send(req(f"/metric-stack?id={i}"))
                c.response()
                served += 1
            except (EOFError, ConnectionResetError, BrokenPipeError):
                closed += 1
        for c in conns:
            c.close()

        def stats():
            try:
                return srv.stats()
            except (EOFError, ConnectionResetError, RuntimeError):
                return None             # refused while the others close
        st = wait_until(stats)
        info(f"24 connections, --max-conns 8: {served} served, {closed} closed; "
             f"rejected per shard: {[s['rejected_over_max_conns'] for s in st['shards']]}")
        check(served == 8 and closed == 16, "8 served, 16 closed at once")
        check(st["acceptor"]["rejected_over_max_conns"] >= 16, "... and counted")
        check(srv.stop() == 0, "exit 0")


class Client(threading.Thread):
    """Pipelines batches of 10 on one connection until told to stop,
    checking each answer; keeps the Server header of the last one."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = Conn(port, timeout=60)
        self.stop = threading.Event()
        self.sent = 0
        self.errors = []
        self.server = None

    def batch(self):
        self.conn.send(b"".join(req(f"/metric-stack?id={self.sent + i}") for i in range(10)))
        for i in range(10):
            r = self.conn.response()
            if r.status != 200 or not r.body.startswith(b'{"id":%d,' % (self.sent + i)):
                self.errors.append(f"#{self.sent + i}: {r.status} {r.body[:40]!r}")
            self.server = r.headers.get("server")
        self.sent += 10

    def run(self):
        try:
            while not self.stop.is_set():
                self.batch()
        except Exception as e:           # reported by the checks
            self.errors.append(repr(e))


def reload_under_load(tmp):
    conf = os.path.join(tmp, "shards.conf")
    with open(conf, "w") as f:
        f.write("server-header = gen-1\n")
    with Server(*SHARDS, "--config", conf) as srv:
        clients = [Client(srv.port) for _ in range(LOAD)]
        for c in clients:
            c.start()
        for g in range(2, RELOADS + 2):
            with open(conf, "w") as f:
                f.write(f"server-header = gen-{g}\nidle-timeout = {60000 + g}\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_log(srv, f"(generation {g})"), f"reload {g - 1} took effect")
            time.sleep(0.05)             # some load between reloads
        reached = wait_until(lambda: [s["reloads_applied"] for s in srv.stats()["shards"]]
                             == [RELOADS, RELOADS])
        check(reached, f"both shards applied all {RELOADS} reloads")
        for c in clients:
            c.stop.set()
        for c in clients:
            c.join(60)
        for c in clients:
            c.batch()                    # after the last reload
        st = srv.stats()
        errors = [e for c in clients for e in c.errors]
        info(f"{sum(c.sent for c in clients)} requests on {LOAD} connections; served per "
             f"worker: {[w['requests'] for w in st['worker']]}")
        check(not errors, f"every answer whole and in order ({errors[:3]})")
        check(all(c.server == f"gen-{RELOADS + 1}" for c in clients),
              "after the last reload every connection gets the last Server header")
        check(all(w["requests"] > 0 for w in st["worker"]), "both shards served the load")
        for c in clients:
            c.conn.close()
        check(srv.stop() == 0, "exit 0")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def drain_both():
    with Server(*SHARDS) as srv:
        conns = [Conn(srv.port, timeout=120) for _ in range(DRAIN)]
        for k, c in enumerate(conns):
            c.send(b"".join(req(f"/metric-stack?id={k * 1000 + i}&work=2000")
                            for i in range(BATCH)))
        conns[0].response()              # the work has begun
        st = srv.stats()
        srv.proc.send_signal(signal.SIGTERM)
        answered, wrong, closed = 1, 0, 0
        for k, c in enumerate(conns):
            for i in range(1 if k == 0 else 0, BATCH):
                try:
                    r = c.response()
                except (EOFError, ConnectionResetError):
                    break
                answered += 1
                wrong += not r.body.startswith(b'{"id":%d,' % (k * 1000 + i))
            closed += c.eof(10)
        rc = srv.proc.wait(120)          # a hang guard
        info(f"SIGTERM with {DRAIN} x {BATCH} requests sent: {answered} answered; "
             f"open per shard before: {[s['connections_open'] for s in st['shards']]}")
        check(all(s["connections_open"] > 0 for s in st["shards"]),
              "both shards had connections to drain")
        check(answered == DRAIN * BATCH and wrong == 0, "every request answered, in order")
        check(closed == DRAIN, "every connection closed after its answers")
        check(rc == 0, f"exit 0 ({rc})")
        check(any("SIGTERM: draining" in l for l in srv.log), "the drain is logged")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def main():
    both_shards_serve()
    max_conns_is_global()
    with tempfile.TemporaryDirectory() as tmp:
        reload_under_load(tmp)
    drain_both()
    finish()


if __name__ == "__main__":
    main()
