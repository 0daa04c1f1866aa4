#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Malformed requests (RFC 9112), end to end over a socket.

Each case is sent on its own connection; the answer must be the documented
status with "Connection: close", nothing else may be answered (a malformed
request is never taken for something else), and the server must close.
Between cases the server keeps serving normal requests, and at the end it
holds no more fds than before.  Cases are named after the attack class.
"""
import threading

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, info, req

CRLF = b"\r\n"


def head(lines):
    return b"".join(l + CRLF for l in lines) + CRLF


# (name, bytes, expected status)
CASES = [
    ("ws_before_colon", head([b"GET /healthz HTTP/1.1", b"Host : t"]), 400),
    ("ws_before_colon_te", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                 b"Transfer-Encoding : chunked"]) + b"0\r\n\r\n", 400),
    ("obs_fold", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X-A: a", b" folded"]), 400),
    ("obs_fold_tab", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X-A: a", b"\tfolded"]), 400),
    ("duplicate_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                       b"Content-Length: 3", b"Content-Length: 3"]) + b"abc", 400),
    ("conflicting_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                         b"Content-Length: 3", b"Content-Length: 5"]) + b"abcde", 400),
    ("content_length_list", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                  b"Content-Length: 3, 3"]) + b"abc", 400),
    ("cl_and_te", head([b"POST /healthz HTTP/1.1", b"Host: t", b"Content-Length: 5",
                        b"Transfer-Encoding: chunked"]) + b"0\r\n\r\n", 400),
    ("te_and_cl", head([b"POST /healthz HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked",
                        b"Content-Length: 5"]) + b"0\r\n\r\n", 400),
    ("te_gzip", head([b"POST /healthz HTTP/1.1", b"Host: t", b"Transfer-Encoding: gzip"]), 400),
    ("te_chunked_then_gzip", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                   b"Transfer-Encoding: chunked, gzip"]) + b"0\r\n\r\n", 400),
    ("te_identity", head([b"POST /healthz HTTP/1.1", b"Host: t",
                          b"Transfer-Encoding: identity"]), 400),
    ("te_twice", head([b"POST /healthz HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked",
                       b"Transfer-Encoding: chunked"]) + b"0\r\n\r\n", 400),
    ("te_in_http10", head([b"POST /healthz HTTP/1.0", b"Host: t",
                           b"Transfer-Encoding: chunked"]) + b"0\r\n\r\n", 400),
    ("bad_char_in_method", head([b"GE(T /healthz HTTP/1.1", b"Host: t"]), 400),
    ("lowercase_method", head([b"get /healthz HTTP/1.1", b"Host: t"]), 400),
    ("unknown_method", head([b"BREW /healthz HTTP/1.1", b"Host: t"]), 400),
    ("del_in_target", head([b"GET /heal\x7fthz HTTP/1.1", b"Host: t"]), 400),
    ("high_byte_in_target", head([b"GET /h\xc3\xa9 HTTP/1.1", b"Host: t"]), 400),
    ("tab_in_target", head([b"GET /heal\tthz HTTP/1.1", b"Host: t"]), 400),
    ("double_space_request_line", head([b"GET  /healthz HTTP/1.1", b"Host: t"]), 400),
    ("bad_char_in_header_name", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X(y): 1"]), 400),
    ("empty_header_name", head([b"GET /healthz HTTP/1.1", b"Host: t", b": 1"]), 400),
    ("nul_in_header_value", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X-A: a\x00b"]), 400),
    ("nul_in_target", head([b"GET /heal\x00thz HTTP/1.1", b"Host: t"]), 400),
    ("nul_in_header_name", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X\x00A: 1"]), 400),
    ("ctl_in_header_value", head([b"GET /healthz HTTP/1.1", b"Host: t", b"X-A: a\x01b"]), 400),
    ("absurd_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                    b"Content-Length: 99999999999999999999999"]), 400),
    ("negative_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                      b"Content-Length: -1"]), 400),
    ("plus_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                  b"Content-Length: +1"]) + b"x", 400),
    ("hex_content_length", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                 b"Content-Length: 0x10"]), 400),
    ("content_length_over_1mib", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                       b"Content-Length: 1048577"]), 413),
    ("no_version", head([b"GET /healthz", b"Host: t"]), 400),
    ("no_version_http09_style", b"GET /healthz\r\n", 400),
    ("trailing_space_after_version", head([b"GET /healthz HTTP/1.1 ", b"Host: t"]), 400),
    ("lowercase_version", head([b"GET /healthz http/1.1", b"Host: t"]), 400),
    ("bare_lf", b"GET /healthz HTTP/1.1\nHost: t\n\n", 400),
    ("bare_lf_in_header", b"GET /healthz HTTP/1.1\r\nHost: t\nX: y\r\n\r\n", 400),
    ("bare_cr", b"GET /healthz HTTP/1.1\rHost: t\r\n\r\n", 400),
    ("bare_cr_in_value", b"GET /healthz HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400),
    ("http_0_9", head([b"GET /healthz HTTP/0.9"]), 505),
    ("http_1_2", head([b"GET /healthz HTTP/1.2", b"Host: t"]), 505),
    ("http_2_0", head([b"GET /healthz HTTP/2.0", b"Host: t"]), 505),
    ("http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
     + bytes.fromhex("000012040000000000000300000064000400100000000600004000"), 505),
    ("header_over_max_header_bytes", head([b"GET /healthz HTTP/1.1", b"Host: t",
                                           b"X-Big: " + b"a" * 9000]), 431),
    ("many_headers_over_limit", head([b"GET /healthz HTTP/1.1", b"Host: t"]
                                     + [b"X-%d: v" % i for i in range(1200)]), 431),
    ("bad_chunk_size", head([b"POST /healthz HTTP/1.1", b"Host: t",
                             b"Transfer-Encoding: chunked"]) + b"zz\r\nhi\r\n0\r\n\r\n", 400),
    ("bad_trailer_ws_before_colon", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                          b"Transfer-Encoding: chunked"])
     + b"0\r\nX-T : 1\r\n\r\n", 400),
    ("bad_trailer_obs_fold", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                   b"Transfer-Encoding: chunked"])
     + b"0\r\nX-T: 1\r\n folded\r\n\r\n", 400),
    # Chunk framing that Debian's non-strict http-parser lets through: a
    # proxy in front could see a different body end (request smuggling).
    ("chunk_data_not_followed_by_crlf", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                              b"Transfer-Encoding: chunked"])
     + b"5\r\nhelloXY0\r\n\r\n" + req("/metric-stack?id=666"), 400),
    ("chunk_size_line_bare_cr", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                      b"Transfer-Encoding: chunked"])
     + b"5\rXhello\r\n0\r\n\r\n" + req("/metric-stack?id=666"), 400),
    ("chunk_extension_with_bare_lf", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                           b"Transfer-Encoding: chunked"])
     + b"5;a\nb\r\nhello\r\n0\r\n\r\n" + req("/metric-stack?id=666"), 400),
    ("chunk_extension_with_nul", head([b"POST /healthz HTTP/1.1", b"Host: t",
                                       b"Transfer-Encoding: chunked"])
     + b"5;a\x00b\r\nhello\r\n0\r\n\r\n" + req("/metric-stack?id=666"), 400),
    # CONNECT: http-parser takes it for a tunnel and skips the body, which
    # would then be answered as a request of its own.
    ("connect_with_body", head([b"CONNECT h:443 HTTP/1.1", b"Host: h:443",
                                b"Content-Length: 37"]) + req("/metric-stack?id=666")[:37], 400),
]


def run_case(port, name, data, want):
    c = Conn(port, timeout=5)
    try:
        c.send(data)
        r = c.response()
    except (EOFError, ConnectionError, OSError) as e:
        check(False, f"{name}: answered {want} (got no answer: {e})")
        c.close()
        return
    ok = r.status == want and r.close and r.body.startswith(b'{"error":')
    check(ok, f"{name}: {want} with Connection: close (got {r.status}, "
              f"close={r.close}, {r.body[:50]!r})")
    check(c.eof(1.5), f"{name}: then the connection is closed, nothing else answered")
    c.close()


def chunked_over_1mib(port):
    """A chunked body is held to the same 1 MiB as a Content-Length one."""
    c = Conn(port, timeout=10)
    c.send(head([b"POST /healthz HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked"]))
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"

    def sender():
        try:
            for _ in range(40):               # 2.5 MiB
                c.sock.sendall(chunk)
            c.sock.sendall(b"0\r\n\r\n" + req("/healthz"))
        except OSError:
            pass                              # closed on us: expected

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        r = c.response()
        got = f"{r.status}, close={r.close}"
        ok = r.status == 413 and r.close
    except (EOFError, OSError) as e:
        got, ok = f"no answer: {e}", False
    check(ok, f"chunked_body_over_1mib: 413 with Connection: close (got {got})")
    t.join(5)
    c.close()


def get_with_body_then_pipelined(port):
    """A body on GET is read and discarded, never taken for a request."""
    c = Conn(port)
    smuggled = req("/healthz")
    c.send(req("/metric-stack?id=1", headers=[("Content-Length", str(len(smuggled)))],
               body=smuggled) + req("/metric-stack?id=2"))
    a, b = c.responses(2)
    check(a.status == 200 and a.body.startswith(b'{"id":1,'),
          f"get_with_body: first answer is id 1 ({a})")
    check(b.status == 200 and b.body.startswith(b'{"id":2,'),
          f"get_with_body: second answer is id 2, the body was not answered ({b})")
    c.send(req("/metric-stack?id=3"))
    r = c.response()
    check(r.status == 200 and r.body.startswith(b'{"id":3,') and not r.close,
          "get_with_body: the connection stays usable")
    # Chunked body with trailers on GET, then a pipelined request.
    c.send(req("/metric-heap?id=4", headers=[("Transfer-Encoding", "chunked")],
               body=b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n") + req("/metric-heap?id=5"))
    a, b = c.responses(2)
    check(a.body.startswith(b'{"id":4,') and b.body.startswith(b'{"id":5,'),
          "chunked body with trailers, then a pipelined request: answered as two")
    c.close()


def main():
    with Server("--workers", "2") as srv:
        port = srv.port
        base = srv.rest_fds()
        for name, data, want in CASES:
            run_case(port, name, data, want)
            if not srv.alive():
                check(False, f"server still running after {name}")
                break
        chunked_over_1mib(port)
        get_with_body_then_pipelined(port)

        c = Conn(port)
        c.send(req("/metric-stack?id=9"))
        r = c.response()
        check(r.status == 200 and r.body.startswith(b'{"id":9,'),
              "after every case, a normal request is answered")
        c.close()
        n = srv.wait_fds(base)
        check(n <= base, f"no fd leaked ({n} open, {base} before)")
        rc = srv.stop()
        check(rc == 0, f"metricd exits 0 on SIGTERM (got {rc})")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
        info(f"{len(CASES) + 2} malformed/edge cases sent")
    finish()


if __name__ == "__main__":
    main()
