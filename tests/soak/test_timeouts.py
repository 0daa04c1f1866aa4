#!/usr/bin/env python3
"""--idle-timeout and --header-timeout.

idle: a keep-alive connection idle for the timeout is closed (and not much
before it); one that keeps sending requests is not; a connection that never
sends a byte counts as idle.

header: a request that is not complete within the timeout of its first
byte gets 408 and a close, even while bytes keep trickling in (README:
"request not complete within --header-timeout"; a stalled body counts); a
head that arrives in pieces within the timeout is answered; an idle
keep-alive connection is governed by the idle timeout, not the header
timeout.
"""
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

IDLE_MS = 600
HEAD_MS = 400


def wait_close(c, limit):
    """Seconds until the server closed c, or None if still open at limit."""
    t0 = time.time()
    return (time.time() - t0) if c.eof(limit) else None


def idle_timeout():
    with Server("--workers", "2", "--idle-timeout", str(IDLE_MS),
                "--header-timeout", "10000") as srv:
        quiet = Conn(srv.port)
        quiet.send(req())
        check(quiet.response().status == 200, "idle: first request answered")
        silent = Conn(srv.port)             # never sends a byte
        busy = Conn(srv.port)
        t0 = time.time()
        results = {}

        def keep_busy():
            ok = True
            while time.time() - t0 < 2.0 * IDLE_MS / 1000:
                try:
                    busy.send(req())
                    ok = ok and busy.response().status == 200
                except (OSError, EOFError):
                    ok = False
                    break
                time.sleep(IDLE_MS / 4000)
            results["busy"] = ok

        th = threading.Thread(target=keep_busy)
        th.start()
        q = wait_close(quiet, 3 * IDLE_MS / 1000)
        s = wait_close(silent, 3 * IDLE_MS / 1000)
        th.join()
        check(q is not None, f"idle: an idle keep-alive connection is closed "
                             f"(after {q if q is None else round(q, 2)} s)")
        check(q is None or q >= 0.8 * IDLE_MS / 1000,
              f"idle: not closed before --idle-timeout {IDLE_MS} ms")
        check(s is not None, "idle: a connection that never sent a byte is closed too")
        check(results.get("busy"), f"idle: a connection sending a request every "
                                   f"{IDLE_MS // 4} ms stays open for {2 * IDLE_MS} ms")
        busy.send(req())
        check(busy.response().status == 200, "idle: the busy connection still works")
        st = srv.stats()["acceptor"]
        check(st.get("idle_closes", 0) >= 2, f"idle: /stats counts idle closes ({st.get('idle_closes')})")
        for c in (quiet, silent, busy):
            c.close()
        check(srv.stop() == 0, "idle: metricd exits 0")


def header_timeout():
    with Server("--workers", "2", "--header-timeout", str(HEAD_MS),
                "--idle-timeout", "60000") as srv:
        # A head that stops half way.
        c = Conn(srv.port)
        t0 = time.time()
        c.send(b"GET /healthz HTTP/1.1\r\nHo")
        try:
            r = c.response()
            dt = time.time() - t0
            check(r.status == 408 and r.close,
                  f"header: a stalled head gets 408 + Connection: close ({r.status}, {dt:.2f} s)")
            check(0.8 * HEAD_MS / 1000 <= dt <= HEAD_MS / 1000 + 1.0,
                  f"header: 408 about --header-timeout after the first byte ({dt:.2f} s)")
            check(c.eof(2), "header: then the connection is closed")
        except (EOFError, OSError) as e:
            check(False, f"header: a stalled head gets 408 (got {e})")
        c.close()

        # Slowloris: a byte every 100 ms keeps coming, the clock still runs
        # from the first byte.
        c = Conn(srv.port)
        t0 = time.time()
        got = None
        data = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200
        for i in range(len(data)):
            try:
                c.send(data[i:i + 1])
            except OSError:
                break
            c.sock.settimeout(0.1)
            try:
                chunk = c.sock.recv(4096)
                c.buf += chunk
                if not chunk or b"\r\n\r\n" in c.buf:
                    break
            except OSError:
                pass
            if time.time() - t0 > 3:
                break
        dt = time.time() - t0
        c.sock.settimeout(3)
        try:
            got = c.response()
        except (EOFError, OSError):
            pass
        check(got is not None and got.status == 408,
              f"header: a head trickling a byte per 100 ms gets 408 "
              f"({got.status if got else 'nothing'} after {dt:.2f} s)")
        check(dt <= HEAD_MS / 1000 + 1.0, "header: ... within about the timeout")
        c.close()

        # In pieces, within the timeout: answered.
        c = Conn(srv.port)
        for piece in (b"GET /metric-st", b"ack?id=5 HTTP/1.1\r\n", b"Host: t\r\n", b"\r\n"):
            c.send(piece)
            time.sleep(HEAD_MS / 8000)
        r = c.response()
        check(r.status == 200 and b'"id":5' in r.body, "header: a head sent in pieces in time is answered")
        # Idle keep-alive after a complete request: not a header timeout.
        time.sleep(2.5 * HEAD_MS / 1000)
        c.send(req("/metric-stack?id=6"))
        try:
            r = c.response()
            check(r.status == 200, "header: an idle keep-alive connection outlives --header-timeout")
        except (EOFError, OSError) as e:
            check(False, f"header: an idle keep-alive connection outlives --header-timeout ({e})")
        # README: "request not complete within --header-timeout: 408, then
        # close" - the body too must be complete in time.
        c.send(req("/healthz", method="POST", headers=[("Content-Length", "4")]) + b"ab")
        time.sleep(2 * HEAD_MS / 1000)
        try:
            c.send(b"cd")
            r = c.response()
            check(r.status == 408 and r.close,
                  f"header: a body not complete in time gets 408 + close ({r.status})")
        except (EOFError, OSError) as e:
            check(False, f"header: a body not complete in time gets 408 + close ({e})")
        c.close()
        st = srv.stats()["acceptor"]
        info(f"header_timeouts={st.get('header_timeouts')}")
        check(st.get("header_timeouts", 0) >= 2, "header: /stats counts header timeouts")
        check(srv.stop() == 0, "header: metricd exits 0")


def main():
    idle_timeout()
    header_timeout()
    finish()


if __name__ == "__main__":
    main()
