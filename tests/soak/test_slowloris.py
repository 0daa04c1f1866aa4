#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Slowloris: SLOW_CONNS connections each sending one header byte every
~100 ms, plus a normal client.

1. A long --header-timeout (60 s, far beyond this phase): while every
   slowloris connection is open and dripping - the normal client keeps
   going until the attacker has completed DRIP_ROUNDS more rounds over all
   its connections - every request of the normal client is answered 200
   with its own id; afterwards the slowloris connections are all still
   open and none got an answer or a 408.
2. A short --header-timeout: every slowloris connection gets 408 (and not
   a 200: its head never ends) and is closed, /stats counts exactly that
   many header timeouts, and the normal client, served meanwhile, sees no
   error.

Checks are on counts and order only.  The normal client's latency with and
without the attack is printed ("# ..."); tools/bench/robustness measures it.
The slowloris connections are driven from a separate process so that the
normal client does not share the Python interpreter lock with them.
"""
import multiprocessing
import os
import selectors
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, percentile, req, wait_until

SLOW_CONNS = 500
DRIP_S = 0.1
GROUPS = 20
DRIP_ROUNDS = 3
SHORT_TIMEOUT_MS = 500
GUARD_S = 120           # the attacker's own limit: a guard against a hang


def slowloris(port, n, ready, stop, rounds, result):
    """Own process: n connections, one byte each per DRIP_S, taking turns
    in GROUPS groups so the drips are spread over the interval as
    independent clients' would be.  Also reads what the server sends.
    Runs until `stop` is set or the server closed every connection;
    `rounds` counts the rounds completed over all connections.  Runs at a
    lower priority, so that on a small shared machine the attacker's own
    CPU use does not starve the server."""
    os.nice(10)
    head = b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nX-Slow: "
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((HOST, port))
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    pending = len(socks)
    deadline = time.time() + 30
    while pending and time.time() < deadline:
        for key, _ in sel.select(0.1):
            sel.unregister(key.fileobj)
            pending -= 1
    sel.close()
    pos = [0] * n
    closed = [False] * n
    answers = {}
    ready.set()
    guard = time.time() + GUARD_S
    step = DRIP_S / GROUPS
    tick = time.time()
    g = 0
    while not stop.is_set() and not all(closed) and time.time() < guard:
        for i in range(g, n, GROUPS):
            s = socks[i]
            if closed[i]:
                continue
            try:
                data = s.recv(4096)
                if not data:
                    closed[i] = True
                    continue
                answers[i] = answers.get(i, b"") + data
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = True
                continue
            b = head[pos[i]:pos[i] + 1] if pos[i] < len(head) else b"a"
            try:
                s.send(b)
                pos[i] += 1
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = True
        g = (g + 1) % GROUPS
        if g == 0:
            rounds.value += 1
        tick += step
        time.sleep(max(0.0, tick - time.time()))
    statuses = {}
    for i, a in answers.items():
        st = a.split(b" ", 2)[1].decode() if a.startswith(b"HTTP/1.1 ") else "?"
        statuses[st] = statuses.get(st, 0) + 1
    result.put({"closed": sum(closed), "answered": len(answers), "statuses": statuses,
                "least_bytes_sent": min(pos), "most_bytes_sent": max(pos),
                "rounds": rounds.value})
    for s in socks:
        s.close()


def start_attack(port):
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    rounds = multiprocessing.Value("i", 0)
    result = multiprocessing.Queue()
    p = multiprocessing.Process(target=slowloris,
                                args=(port, SLOW_CONNS, ready, stop, rounds, result))
    p.start()
    check(ready.wait(60), f"the {SLOW_CONNS} slowloris connections are made")
    return p, stop, rounds, result


def normal_client(port, until, least=100):
    """Sequential requests on one keep-alive connection until `until()` is
    true (and at least `least`); returns (answered right, sent, latencies)."""
    c = Conn(port, timeout=30)
    good = sent = 0
    lat = []
    try:
        while sent < least or not until():
            sent += 1
            t = time.perf_counter()
            c.send(req(f"/metric-stack?id={sent}"))
            r = c.response()
            lat.append(time.perf_counter() - t)
            good += r.status == 200 and r.body.startswith(b'{"id":%d,' % sent)
    except (OSError, EOFError) as e:
        info(f"normal client: {e}")
    finally:
        c.close()
    return good, sent, lat


def ms(lat, p):
    return percentile(lat, p) * 1000


def phase_long_timeout():
    with Server("--workers", "2", "--header-timeout", "60000") as srv:
        _, _, base = normal_client(srv.port, lambda: True, least=2000)   # unloaded
        p, stop, rounds, result = start_attack(srv.port)
        opened = wait_until(lambda: srv.stats()["acceptor"]["connections_open"] >= SLOW_CONNS)
        check(opened, f"all {SLOW_CONNS} slowloris connections are open")
        # Every connection has dripped once, then the normal client runs
        # until DRIP_ROUNDS more rounds went over all of them.
        wait_until(lambda: rounds.value >= 1)
        start = rounds.value
        good, sent, lat = normal_client(srv.port, lambda: rounds.value >= start + DRIP_ROUNDS)
        st = srv.stats()["acceptor"]
        stop.set()
        p.join(GUARD_S + 30)
        res = result.get(timeout=30)
        info(f"unloaded: p50 {ms(base, 50):.3f} ms p99 {ms(base, 99):.3f} ms; with {SLOW_CONNS} "
             f"slowloris dripping: p50 {ms(lat, 50):.3f} ms p99 {ms(lat, 99):.3f} ms "
             f"({sent} requests over {res['rounds'] - start} drip rounds)")
        check(good == sent, f"the normal client's {sent} requests during {DRIP_ROUNDS} drip "
                            f"rounds were all answered 200 with their own id ({good})")
        check(st["connections_open"] >= SLOW_CONNS + 1,
              f"the slowloris connections were all open after it ({st['connections_open']})")
        check(res["closed"] == 0 and res["answered"] == 0,
              f"no slowloris connection was answered or closed ({res})")
        check(res["least_bytes_sent"] >= 2, "every slowloris connection kept dripping "
                                            f"(least bytes sent: {res['least_bytes_sent']})")
        check(st["header_timeouts"] == 0, "no header timeout within the 60 s --header-timeout")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def phase_short_timeout():
    with Server("--workers", "2", "--header-timeout", str(SHORT_TIMEOUT_MS)) as srv:
        p, stop, rounds, result = start_attack(srv.port)
        # The normal client runs until the attacker saw every connection
        # closed (or its guard ran out).
        good, sent, lat = normal_client(srv.port, lambda: not p.is_alive())
        p.join(GUARD_S + 30)
        res = result.get(timeout=30)
        info(f"short --header-timeout {SHORT_TIMEOUT_MS} ms: {res}; normal client p99 "
             f"{ms(lat, 99):.3f} ms over {sent} requests")
        check(res["statuses"] == {"408": SLOW_CONNS},
              f"every slowloris connection got 408, and nothing else ({res['statuses']})")
        check(res["closed"] == SLOW_CONNS, f"... and was closed ({res['closed']})")
        check(good == sent, f"the normal client's {sent} requests were all answered right ({good})")
        st = srv.stats()["acceptor"]
        check(st.get("header_timeouts") == SLOW_CONNS,
              f"/stats counts exactly {SLOW_CONNS} header timeouts ({st.get('header_timeouts')})")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")


def main():
    phase_long_timeout()
    phase_short_timeout()
    finish()


if __name__ == "__main__":
    main()
