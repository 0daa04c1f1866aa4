#!/usr/bin/env python3
"""Clients that misbehave at the TCP level.

  reset_mid_response   a big pipelined batch is being answered when the
                       client sets SO_LINGER 0 and closes (RST)
  half_close           shutdown(SHUT_WR) after the requests: every answer
                       still arrives, then EOF
  vanish_in_flight     close() with pipelined requests unanswered and
                       unread (the server's writes then meet RST)
  reset_mid_head       RST in the middle of a request head
  reset_before_close_answer
                       RST while the answer before a "Connection: close"
                       request is computed (--max-pipeline 1, so the close
                       answer reaches the worker after the write failed)

Afterwards: metricd is alive, holds no more fds than before, no worker is
stuck (a normal request is answered on both workers) and GET /stats shows
every worker's ring depth back to 0, no connection with unsent bytes, and
only the /stats connection itself open.
"""
import socket
import struct
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req

BATCH = 20000         # pipelined requests per connection reset mid-response
CONNS = 8             # faulty connections per kind


def batch(n, base=0):
    # work=200 makes each answer cost a little, so answering takes a while
    return b"".join(req(f"/metric-stack?id={base + i}&work=200") for i in range(n))


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
    socks = []
    for k in range(CONNS):
        s = small_rcvbuf_socket()
        s.connect((HOST, srv.port))
        socks.append(s)
    threads = [threading.Thread(target=send_quietly, args=(s, batch(BATCH, k * BATCH), 3.0))
               for k, s in enumerate(socks)]
    for t in threads:
        t.start()
    # Wait until answers are flowing on every connection and the server is
    # holding unsent bytes (its socket buffers are full), then reset.
    got = 0
    for s in socks:
        s.settimeout(3)
        try:
            got += len(s.recv(1024)) > 0
        except OSError:
            pass
    deadline = time.time() + 3
    tails = 0
    while time.time() < deadline:
        tails = sum(w["connections_with_unsent_bytes"] for w in srv.stats()["worker"])
        if tails >= CONNS // 2:
            break
        time.sleep(0.05)
    info(f"reset_mid_response: {tails} connections had unsent bytes parked when reset")
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for t in threads:
        t.join(5)
    check(got == CONNS, f"reset_mid_response: answers were flowing on {got}/{CONNS} "
                        f"connections when they were reset")


def half_close(port):
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


def vanish_in_flight(port):
    for k in range(CONNS):
        s = small_rcvbuf_socket()
        s.connect((HOST, port))
        send_quietly(s, batch(500, k * 500), timeout=0.5)
        s.close()          # FIN with unread answers: later writes meet RST


def reset_mid_head(port):
    for k in range(CONNS):
        s = socket.create_connection((HOST, port))
        s.sendall(b"GET /metric-stack?id=1 HTTP/1.1\r\nHost: t\r\nX-Half: ")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


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
    n = srv.wait_fds(base_fds, timeout=4)
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
    deadline = time.time() + 5
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
        c = Conn(srv.port)
        c.send(req())
        c.response()
        c.close()
        time.sleep(0.2)
        base = srv.fds()
        info(f"metricd holds {base} fds at rest")
        t0 = time.time()
        reset_mid_response(srv)
        half_close(srv.port)
        vanish_in_flight(srv.port)
        reset_mid_head(srv.port)
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
        time.sleep(0.2)
        base = srv.fds()
        reset_before_close_answer(srv.port)
        time.sleep(0.3)
        settled(srv, base)
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
