#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Host, request-target forms, Expect and OPTIONS * on the wire (RFC 9110,
RFC 9112 3.2).  Where the RFCs leave room, metricd does what nginx does
(nginx-light 1.22, checked on this machine) and says so:

  HTTP/1.1 without Host, with two, or with an invalid one   400, close
  HTTP/1.0 without Host                                      answered
  absolute-form target                                       routed by its
      path; the Host field is still required, as nginx requires it
  GET *                                                      400, close
  OPTIONS *                                                  200, Allow
      (nginx answers 400; RFC 9110 9.3.7 defines it, so metricd answers)
  Expect: 100-continue with a body                           100 Continue
      at once, before the body is sent; then the final answer
  Expect: anything else                                      417, close
      (nginx ignores it; RFC 9110 10.1.1 allows 417)"""
import socket
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, HOST, Server, check, finish, info, req

CASES = [
    # (name, raw request, status, closes)
    ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400, True),
    ("two Hosts", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, True),
    ("empty Host", b"GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", 400, True),
    ("Host with a space", b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, True),
    ("Host with userinfo", b"GET /healthz HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, True),
    ("Host with a bad port", b"GET /healthz HTTP/1.1\r\nHost: a:x\r\n\r\n", 400, True),
    ("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, False),
    ("Host IPv6 literal and port", b"GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200, False),
    ("absolute-form", b"GET http://example.org/metric-stack?id=5 HTTP/1.1\r\nHost: x\r\n\r\n", 200, False),
    ("absolute-form, upper-case scheme", b"GET HTTPS://EXAMPLE.ORG:443/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, False),
    ("absolute-form without Host", b"GET http://example.org/healthz HTTP/1.1\r\n\r\n", 400, True),
    ("absolute-form with userinfo", b"GET http://u@example.org/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
    ("GET *", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
    ("Expect: something", b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417, True),
    ("Expect: 100-continue, no body", b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", 200, False),
]


def main():
    with Server("--workers", "2") as srv:
        for name, raw, status, closes in CASES:
            c = Conn(srv.port)
            c.send(raw)
            r = c.response()
            ok = r.status == status and r.close == closes
            if not closes:
                c.send(req("/healthz"))
                ok = ok and c.response().status == 200
            else:
                ok = ok and c.eof()
            check(ok, f"{name}: {r.status}{', close' if r.close else ''}")
            c.close()

        c = Conn(srv.port)
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.response()
        check(r.status == 200 and r.headers.get("allow") == "GET, HEAD, OPTIONS"
              and r.headers.get("content-length") == "0",
              f"OPTIONS *: {r.status}, Allow: {r.headers.get('allow')}")
        c.send(b"OPTIONS /metric-stack HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.response()
        check(r.status == 405 and r.headers.get("allow") == "GET, HEAD",
              f"OPTIONS on a path: {r.status}, Allow: {r.headers.get('allow')}")
        c.close()

        # 100 Continue comes before the body is sent, then the answer.
        for te in (False, True):
            c = Conn(srv.port)
            framing = b"Transfer-Encoding: chunked\r\n" if te else b"Content-Length: 5\r\n"
            c.send(b"GET /metric-stack?id=3 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   + framing + b"\r\n")
            interim = c.response()
            check(interim.status == 100 and interim.body == b"",
                  f"Expect: 100-continue ({'chunked' if te else 'Content-Length'}): "
                  f"{interim.status} before the body")
            c.send(b"5\r\nhello\r\n0\r\n\r\n" if te else b"hello")
            r = c.response()
            check(r.status == 200 and r.body.startswith(b'{"id":3,'),
                  f"... then the answer ({r.status})")
            c.send(req("/healthz"))
            check(c.response().status == 200, "... and the connection goes on")
            c.close()

        st = srv.stats()
        check(st["endpoints"]["*"]["requests"] == 1, "/stats counts OPTIONS * under \"*\"")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
