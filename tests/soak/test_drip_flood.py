#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Drip flood: DRIPPERS connections each send one ~8 KB request head of
~1,300 short header lines one byte per send, while a normal client keeps
asking.  Framing must resume where it stopped, so the acceptor's work is
linear in the bytes it reads: GET /stats counts the bytes the framer
examined, and they must stay within 4x the bytes read (a framer that
rescans a partial head from its start examines ~4,000x on such a head).
The dripped heads are all answered in the end, and the normal client gets
every answer meanwhile.  No timing is asserted; the normal client's
latency is printed for the record (tools/bench measures it properly)."""
import multiprocessing
import os
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, percentile, req

DRIPPERS = 24
NORMAL = 400


def many_lines_head():
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
    while len(head) < 8000:
        head += b"a: b\r\n"
    return head + b"\r\n"


def drip(port, n, result):
    """Own process: n connections, each head sent one byte per send, the
    connections taking turns so every one drips all the time."""
    os.nice(10)
    head = many_lines_head()
    socks = [socket.create_connection((HOST, port)) for _ in range(n)]
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(head)):
        for s in socks:
            s.send(head[i:i + 1])
    ok = 0
    for s in socks:
        s.settimeout(60)         # a hang guard, not a measurement
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        ok += data.startswith(b"HTTP/1.1 200")
        s.close()
    result.put((len(head), ok))


def main():
    # No --header-timeout: on a loaded machine the drip may take longer
    # than its default, and what is tested here is the framing cost.
    with Server("--workers", "1", "--header-timeout", "0") as srv:
        before = srv.stats()["acceptor"]
        result = multiprocessing.Queue()
        p = multiprocessing.Process(target=drip, args=(srv.port, DRIPPERS, result))
        p.start()
        c = Conn(srv.port, timeout=60)
        lat, statuses = [], []
        while p.is_alive() or len(lat) < NORMAL:
            t = time.time()
            c.send(req("/metric-stack?id=7"))
            statuses.append(c.response().status)
            lat.append(time.time() - t)
            if len(lat) >= 100000:
                break
        p.join(120)
        head_len, ok = result.get(timeout=10)
        after = srv.stats()["acceptor"]
        read = after["bytes_read"] - before["bytes_read"]
        examined = after["frame_bytes_examined"] - before["frame_bytes_examined"]
        info(f"{DRIPPERS} heads of {head_len} bytes dripped one byte per send; "
             f"normal client: {len(lat)} requests, p50 {percentile(lat, 50) * 1e3:.2f} ms, "
             f"p99 {percentile(lat, 99) * 1e3:.2f} ms")
        check(ok == DRIPPERS, f"every dripped head is answered 200 ({ok}/{DRIPPERS})")
        check(statuses.count(200) == len(statuses) and len(statuses) >= NORMAL,
              f"the normal client got every answer ({statuses.count(200)}/{len(statuses)})")
        check(read >= DRIPPERS * head_len, f"the acceptor read the heads ({read} bytes)")
        check(examined <= 4 * read,
              f"framing is linear: {examined} bytes examined for {read} read "
              f"({examined / max(read, 1):.2f}x, at most 4x)")
        c.close()
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
