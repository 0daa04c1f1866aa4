#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A flood of garbage from many connections while a normal client runs.

A separate process keeps GARBAGE_CONNS connections busy until told to
stop, each sending random bytes, malformed heads, oversized heads, binary
HTTP/2 frames or a half request and a reset, and reconnecting when the
server closes it.  Meanwhile a normal client sends NORMAL keep-alive and
one-shot requests and must see zero errors: every answer 200 with the
right body.  The flood's own count shows it kept going all through the
normal client's requests (counts, not a time window).  Afterwards the
server holds no more fds than before.
"""
import multiprocessing
import os
import random
import selectors
import socket
import struct
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req, sanitized, wait_until

GARBAGE_CONNS = 64
NORMAL = 300            # normal requests during the flood (fewer under a sanitizer)
GUARD_S = 120           # the flood's own limit: a guard against a hang

GARBAGE = [
    lambda r: os.urandom(r.randint(1, 3000)),
    lambda r: b"GET /" + os.urandom(40) + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    lambda r: b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: " + b"A" * 9000 + b"\r\n\r\n",
    lambda r: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(200),
    lambda r: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500),  # TLS hello
    lambda r: b"POST /metric-heap HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    lambda r: b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
    lambda r: b"\r\n" * r.randint(1, 5000),
    lambda r: b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * r.randint(1, 2000),
    lambda r: b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" * r.randint(1, 50) + os.urandom(64),
]


def flood(port, stop, counter):
    """Runs in its own process until stop is set: GARBAGE_CONNS
    connections, non-blocking; counter: garbage sends so far."""
    rnd = random.Random(1234)
    sel = selectors.DefaultSelector()
    sent = 0

    def open_one():
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((HOST, port))
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)

    for _ in range(GARBAGE_CONNS):
        open_one()
    end = time.time() + GUARD_S
    while not stop.is_set() and time.time() < end:
        for key, ev in sel.select(0.05):
            s = key.fileobj
            dead = False
            if ev & selectors.EVENT_READ:
                try:
                    dead = s.recv(65536) == b""
                except OSError:
                    dead = True
            if not dead and ev & selectors.EVENT_WRITE:
                try:
                    s.send(rnd.choice(GARBAGE)(rnd))
                    sent += 1
                    counter.value = sent
                    if rnd.random() < 0.1:       # vanish with a reset
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                        dead = True
                except OSError:
                    dead = True
            if dead:
                sel.unregister(s)
                s.close()
                open_one()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    counter.value = sent


def main():
    with Server("--workers", "2") as srv:
        base = srv.rest_fds()
        counter = multiprocessing.Value("l", 0)
        stop = multiprocessing.Event()
        p = multiprocessing.Process(target=flood, args=(srv.port, stop, counter))
        p.start()
        # The flood is under way: every connection has sent something.
        wait_until(lambda: counter.value >= GARBAGE_CONNS)
        before = counter.value
        # Sanitizer builds are 5-15x slower: fewer normal requests.
        normal = NORMAL // 10 if sanitized() else NORMAL
        good = bad = 0
        errors = []
        keep = Conn(srv.port, timeout=30)
        for i in range(1, normal + 1):
            try:
                if i % 5 == 0:          # a one-shot connection now and then
                    c = Conn(srv.port, timeout=30)
                    c.send(req(f"/metric-heap?id={i}"))
                    r = c.response()
                    c.close()
                else:
                    keep.send(req(f"/metric-stack?id={i}"))
                    r = keep.response()
                if r.status == 200 and r.body.startswith(b'{"id":%d,' % i):
                    good += 1
                else:
                    bad += 1
                    errors.append(repr(r))
            except (EOFError, OSError) as e:
                bad += 1
                errors.append(str(e))
                keep.close()
                keep = Conn(srv.port, timeout=30)
        keep.close()
        during = counter.value - before
        stop.set()
        p.join(GUARD_S + 30)
        info(f"garbage sends: {counter.value} on {GARBAGE_CONNS} connections, {during} of "
             f"them during the normal requests; normal requests: {good} good, {bad} bad "
             f"{errors[:3]}")
        check(during > GARBAGE_CONNS, f"the flood went on during the normal requests "
                                      f"({during} garbage sends)")
        check(good == normal and bad == 0,
              f"the normal client saw zero errors ({good} of {normal} answered right)")
        check(srv.alive(), "metricd is still running")
        n = srv.wait_fds(base)
        check(n <= base, f"no fd leaked ({n} open, {base} before)")
        st = srv.stats()
        check(sum(w["ring_depth"] for w in st["worker"]) == 0, "ring depths back to 0")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
