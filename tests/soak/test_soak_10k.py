#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""10,000 concurrent keep-alive connections held open with periodic requests.

metricd runs with --max-conns 20000.  The test opens CONNS connections
(non-blocking, in batches), then for ROUNDS rounds sends one request on every
connection and reads every answer, with a pause between rounds, so all
connections are open and in use at the same time.  Every request must be
answered 200 with its own id.  metricd's VmRSS is read before the
connections open and after the first round; the difference per connection
is printed.  Closing everything returns metricd to its resting fd count.

The test process needs CONNS + a margin file descriptors: it raises its
own RLIMIT_NOFILE (metricd inherits it), the hard limit too where it may
(root with CAP_SYS_RESOURCE; up to fs.nr_open).  Where it cannot, it runs
with as many connections as the limit allows and says so; under MIN_CONNS
it skips by hand and fails in CI.
"""
import selectors
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import HOST, Server, check, finish, info, missing, raise_nofile

CONNS = 10000
MIN_CONNS = 1000
MARGIN = 200
ROUNDS = 3
PAUSE_S = 0.5
BATCH = 500


def open_all(port, n):
    socks = []
    sel = selectors.DefaultSelector()
    for start in range(0, n, BATCH):
        pending = {}
        for _ in range(min(BATCH, n - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect_ex((HOST, port))
            sel.register(s, selectors.EVENT_WRITE)
            pending[s.fileno()] = s
        deadline = time.time() + 10
        while pending and time.time() < deadline:
            for key, _ in sel.select(1.0):
                s = key.fileobj
                sel.unregister(s)
                del pending[s.fileno()]
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    socks.append(s)
                else:
                    s.close()
        for s in pending.values():
            sel.unregister(s)
            s.close()
    sel.close()
    return socks


def round_trip(socks, rnd):
    """One request per connection, all in flight together; returns the
    number of correct answers."""
    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(socks):
        ident = rnd * 1000000 + i
        msg = f"GET /metric-stack?id={ident} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        try:
            s.send(msg)
        except OSError:
            continue
        want[s.fileno()] = (s, ident, b"")
        sel.register(s, selectors.EVENT_READ)
    good = 0
    deadline = time.time() + 30
    while want and time.time() < deadline:
        for key, _ in sel.select(1.0):
            s = key.fileobj
            _, ident, buf = want[s.fileno()]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                del want[s.fileno()]
                continue
            buf += data
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    good += head.startswith(b"HTTP/1.1 200 ") and \
                        body.startswith(b'{"id":%d,' % ident)
                    sel.unregister(s)
                    del want[s.fileno()]
                    continue
            want[s.fileno()] = (s, ident, buf)
    sel.close()
    return good


def main():
    global CONNS
    limit = raise_nofile(CONNS + MARGIN)
    if limit < CONNS + MARGIN:
        if limit - MARGIN < MIN_CONNS:
            missing(f"RLIMIT_NOFILE is {limit} and cannot be raised (that needs CAP_SYS_RESOURCE): "
                    f"{MIN_CONNS + MARGIN} is the least this test runs with")
        info(f"SCALED DOWN: RLIMIT_NOFILE is {limit} and cannot be raised to "
             f"{CONNS + MARGIN} (that needs CAP_SYS_RESOURCE): {limit - MARGIN} connections "
             f"instead of {CONNS}")
        CONNS = limit - MARGIN
    info(f"{CONNS} connections, RLIMIT_NOFILE {limit}")
    with Server("--workers", "2", "--max-conns", "20000") as srv:
        fds0 = srv.rest_fds()
        rss0 = srv.rss_kb()
        t0 = time.time()
        socks = open_all(srv.port, CONNS)
        t_open = time.time() - t0
        check(len(socks) == CONNS, f"{len(socks)} of {CONNS} connections opened "
                                   f"({t_open:.1f} s)")
        rss1 = None
        for rnd in range(ROUNDS):
            t = time.time()
            good = round_trip(socks, rnd)
            dt = time.time() - t
            check(good == len(socks), f"round {rnd + 1}: {good}/{len(socks)} connections "
                                      f"answered correctly ({dt:.2f} s)")
            if rss1 is None:
                rss1 = srv.rss_kb()
                st = srv.stats()["acceptor"]
                check(st["connections_open"] >= CONNS,
                      f"/stats: {st['connections_open']} connections open at once")
            time.sleep(PAUSE_S)
        per_conn = (rss1 - rss0) * 1024 / max(1, len(socks))
        info(f"RSS per connection: {per_conn:.0f} bytes "
             f"(VmRSS {rss0} kB idle -> {rss1} kB with {len(socks)} connections)")
        print(f"RSS_PER_CONNECTION_BYTES={per_conn:.0f}", flush=True)
        check(srv.fds() >= fds0 + CONNS, "metricd holds one fd per connection")
        for s in socks:
            s.close()
        n = srv.wait_fds(fds0, timeout=15)
        check(n <= fds0, f"all connections closed on the server side ({n} fds, {fds0} before)")
        st = srv.stats()["acceptor"]
        check(st["connections_open"] <= 1, f"/stats: connections back to "
                                           f"{st['connections_open']}")
        check(st["rejected_over_max_conns"] == 0, "no connection was rejected")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
