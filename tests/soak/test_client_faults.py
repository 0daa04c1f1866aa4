#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Clients that misbehave at the TCP level.

  reset_mid_response   a big pipelined batch is being answered, and the
                       server holds unsent bytes (checked in /stats), when
                       the client sets SO_LINGER 0 and closes (RST)
  half_close           shutdown(SHUT_WR) after the requests: every answer
                       still arrives, then EOF
  vanish_in_flight     close() with pipelined requests unanswered and
                       unread (the server's writes then meet RST)
  reset_mid_head       RST in the middle of a request head
  reset_before_close_answer
                       RST while the answer before a "Connection: close"
                       request is computed (--max-pipeline 1, so the close
                       answer reaches the worker after the write failed)

After each kind: every connection of that kind was accepted and closed by
the server (/stats: accepted grew by their number, nothing but the /stats
connection open), and the kind's own outcome holds (see each function).
At the end: metricd is alive, holds no more fds than before, no worker is
stuck (a normal request is answered on both workers) and GET /stats shows
every worker's ring depth back to 0 and no connection with unsent bytes.
"""
import socket
import struct
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req, wait_until

BATCH = 20000         # pipelined requests per connection reset mid-response
CONNS = 8             # faulty connections per kind


def batch(n, base=0, big_every=0):
    """work=200 makes each answer cost a little, so answering takes a
    while; big_every: every so many requests a /metrics (tens of KB)."""
    return b"".join(req("/metrics") if big_every and i % big_every == big_every - 1
                    else req(f"/metric-stack?id={base + i}&work=200") for i in range(n))


def wmem_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4194304


def accepted_and_closed(srv, before, n, kind):
    """/stats: n more connections were accepted, and the server closed them
    all (only the /stats connection itself is open)."""
    st = wait_until(lambda: (lambda s: s if s["acceptor"]["connections_open"] <= 1 else None)(
        srv.stats()))
    st = st or srv.stats()
    acc = st["acceptor"]["accepted"] - before["acceptor"]["accepted"]
    # the /stats connections of this wait count as accepted too
    check(acc >= n, f"{kind}: the server accepted the {n} connections ({acc} accepted)")
    check(st["acceptor"]["connections_open"] <= 1,
          f"{kind}: the server closed them all ({st['acceptor']['connections_open']} open)")
    return st


def small_rcvbuf_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s


def send_quietly(s, data, timeout=2.0):
    """Sends what the server takes within timeout (it may stop reading)."""
    s.settimeout(timeout)
    try:
        s.sendall(data)
    except OSError:
        pass


def reset_mid_response(srv):
    # A /metrics every 20 requests: more answer bytes per connection than a
    # socket's send buffer can ever hold (net.ipv4.tcp_wmem's maximum), so
    # the server must park unsent bytes - the state the reset should find.
    big_every = 20
    n = max(BATCH, 2 * wmem_max() // 16384 * big_every)
    before = srv.stats()
    socks = []
    for k in range(CONNS):
        s = small_rcvbuf_socket()
        s.connect((HOST, srv.port))
        socks.append(s)
    threads = [threading.Thread(target=send_quietly,
                                args=(s, batch(n, k * n, big_every), 30.0))
               for k, s in enumerate(socks)]
    for t in threads:
        t.start()
    # Answers flowing on every connection, and the server holding unsent
    # bytes; then reset.
    got = 0
    for s in socks:
        s.settimeout(30)
        try:
            got += len(s.recv(1024)) > 0
        except OSError:
            pass
    tails = wait_until(lambda: sum(w["connections_with_unsent_bytes"]
                                   for w in srv.stats()["worker"]))
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for t in threads:
        t.join(30)
    check(got == CONNS, f"reset_mid_response: answers were flowing on {got}/{CONNS} "
                        f"connections when they were reset")
    check(tails >= 1, f"reset_mid_response: the server held unsent bytes for {tails} "
                      f"connection(s) when they were reset")
    st = accepted_and_closed(srv, before, CONNS, "reset_mid_response")
    errors = sum(w["write_errors"] for w in st["worker"]) - \
        sum(w["write_errors"] for w in before["worker"])
    info(f"reset_mid_response: {errors} writes met the reset")


def half_close(srv):
    port = srv.port
    n = 300
    ok = 0
    for k in range(4):
        c = Conn(port, timeout=10)
        c.send(b"".join(req(f"/metric-heap?id={i}") for i in range(n)))
        c.sock.shutdown(socket.SHUT_WR)
        try:
            rs = c.responses(n)
            ids = [int(r.body.split(b",")[0].split(b":")[1]) for r in rs]
            good = all(r.status == 200 for r in rs) and ids == list(range(n))
            good = good and c.eof(3)
        except (EOFError, OSError):
            good = False
        ok += good
        c.close()
    check(ok == 4, f"half_close: all {n} pipelined answers arrive in order, then EOF "
                   f"({ok}/4 connections)")


def vanish_in_flight(srv):
    """close() with answers unread: the kernel resets the connection, the
    server's later writes fail.  The server still counts what it answered:
    no more than was sent, and it closes every such connection."""
    before = srv.stats()
    for k in range(CONNS):
        s = small_rcvbuf_socket()
        s.connect((HOST, srv.port))
        send_quietly(s, batch(500, k * 500), timeout=0.5)
        s.close()          # FIN with unread answers: later writes meet RST
    st = accepted_and_closed(srv, before, CONNS, "vanish_in_flight")
    served = st["endpoints"]["/metric-stack"]["requests"] - \
        before["endpoints"]["/metric-stack"]["requests"]
    check(served <= CONNS * 500, f"vanish_in_flight: {served} requests served, "
                                 f"no more than the {CONNS * 500} sent")


def reset_mid_head(srv):
    """RST in the middle of a head: no request comes of it (nothing
    counted, no 408 either), and the server closes the connection."""
    before = srv.stats()
    for k in range(CONNS):
        s = socket.create_connection((HOST, srv.port))
        s.sendall(b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nX-Half: ")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    st = accepted_and_closed(srv, before, CONNS, "reset_mid_head")
    grew = {k: st["endpoints"][k]["requests"] - before["endpoints"][k]["requests"]
            for k in st["endpoints"] if k not in ("/stats",)}
    check(not any(grew.values()), f"reset_mid_head: no request was counted ({grew})")
    check(st["acceptor"]["header_timeouts"] == before["acceptor"]["header_timeouts"],
          "reset_mid_head: no 408 either")


def reset_before_close_answer(port):
    """The peer resets while a slow answer is computed; the write fails and
    the connection is marked dead; the next descriptor is the answer that
    ends the connection (Connection: close).  With --max-pipeline 1 it
    comes in a later batch, which must still close the socket."""
    for k in range(CONNS):
        s = socket.create_connection((HOST, port))
        s.sendall(req(f"/metric-stack?id={k}&work=2000000")
                  + req("/healthz", headers=[("Connection", "close")]))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def settled(srv, base_fds):
    """Waits for the server to close everything, then checks it is healthy."""
    n = srv.wait_fds(base_fds)
    check(n <= base_fds, f"no fd leaked ({n} fds open, {base_fds} before)")
    # Two fresh connections land on both workers (round-robin).
    for w in range(2):
        c = Conn(srv.port, timeout=5)
        try:
            c.send(req(f"/metric-stack?id={w}"))
            r = c.response()
            check(r.status == 200, f"no stuck worker: a normal request is answered ({w})")
        except (EOFError, OSError) as e:
            check(False, f"no stuck worker: a normal request is answered ({e})")
        c.close()
    deadline = time.time() + 30           # guards a hang
    while True:
        st = srv.stats()
        depths = [w["ring_depth"] for w in st["worker"]]
        tails = [w["connections_with_unsent_bytes"] for w in st["worker"]]
        open_ = st["acceptor"]["connections_open"]
        if (sum(depths) == 0 and sum(tails) == 0 and open_ <= 1) or time.time() > deadline:
            break
        time.sleep(0.1)
    check(sum(depths) == 0, f"/stats: ring depths back to 0 ({depths})")
    check(sum(tails) == 0, f"/stats: no connection keeps unsent bytes ({tails})")
    check(open_ <= 1, f"/stats: only the /stats connection is open ({open_})")
    return st


def main():
    with Server("--workers", "2") as srv:
        base = srv.rest_fds()
        info(f"metricd holds {base} fds at rest")
        t0 = time.time()
        reset_mid_response(srv)
        half_close(srv)
        vanish_in_flight(srv)
        reset_mid_head(srv)
        check(srv.alive(), "metricd survived every fault")
        st = settled(srv, base)
        errors = sum(w["write_errors"] for w in st["worker"])
        info(f"write errors seen by workers: {errors}; partial writes: "
             f"{sum(w['partial_writes'] for w in st['worker'])}; "
             f"{time.time() - t0:.1f} s")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    info("--max-pipeline 1: reset while the answer before a close is computed")
    with Server("--workers", "2", "--max-pipeline", "1") as srv:
        base = srv.rest_fds()
        before = srv.stats()
        reset_before_close_answer(srv.port)
        st = accepted_and_closed(srv, before, CONNS, "reset_before_close_answer")
        served = st["endpoints"]["/metric-stack"]["requests"] - \
            before["endpoints"]["/metric-stack"]["requests"]
        check(served <= CONNS, f"reset_before_close_answer: {served} slow requests served "
                               f"of {CONNS}")
        settled(srv, base)
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
