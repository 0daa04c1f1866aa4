#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the seed corpus for fuzz_framing into tests/fuzz/corpus/.

Each file is: a control byte, split lengths, optionally 8 "world" bytes, then
the bytes a client sends (see the comment at the top of fuzz_framing.c).
The corpus is committed; rerun this only to add seeds:
    python3 tests/fuzz/mkcorpus.py
The regress-* files in corpus/ are inputs the fuzzer found (see
docs/ROBUSTNESS.md), kept as seeds so every run replays them first; this
script leaves them alone.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def req(target="/healthz", method="GET", version="HTTP/1.1", headers=(), body=b""):
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"{method} {target} {version}\r\nHost: t\r\n{h}\r\n".encode() + body


SEEDS = {
    # valid requests, every endpoint
    "get-healthz": req(),
    "get-metric-stack": req("/metric-stack?id=42"),
    "get-metric-heap-work": req("/metric-heap?id=7&work=1000"),
    "get-stats-value": req("/stats-value?id=18446744073709551615"),
    "get-stats-pointer": req("/stats-pointer?id=0"),
    "get-stats": req("/stats"),
    "get-metrics": req("/metrics"),
    "head-metric": req("/metric-stack?id=1", method="HEAD"),
    "http10": req("/healthz", version="HTTP/1.0"),
    "http10-keepalive": req("/healthz", version="HTTP/1.0", headers=[("Connection", "keep-alive")]),
    "connection-close": req("/healthz", headers=[("Connection", "close")]) + req(),
    "leading-crlf": b"\r\n\r\n" + req(),
    "not-found": req("/nope?id=1"),
    "post-405": req("/metric-stack?id=1", method="POST", headers=[("Content-Length", "3")], body=b"abc"),
    "options-star": req("*", method="OPTIONS"),
    "absolute-form": req("http://h/metric-stack?id=1"),
    "absolute-form-https-port": req("HTTPS://h.example:8443/stats-value?id=2"),
    "absolute-form-bad-authority": req("http://u@h/healthz"),
    "host-missing": b"GET /healthz HTTP/1.1\r\n\r\n" + req(),
    "host-twice": req(headers=[("Host", "u")]),
    "host-ipv6": b"GET /healthz HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    "get-star": req("*"),
    "expect-continue-cl": req("/metric-stack?id=5", method="POST",
                              headers=[("Expect", "100-continue"), ("Content-Length", "3")],
                              body=b"abc") + req(),
    "expect-continue-chunked": req("/metric-stack?id=6",
                                   headers=[("Expect", "100-continue"), ("Transfer-Encoding", "chunked")],
                                   body=b"3\r\nabc\r\n0\r\n\r\n") + req(),
    "expect-other": req(headers=[("Expect", "x-y")]) + req(),
    "heavy-work": req("/metric-stack?id=1&work=10000000") + req("/metric-heap?id=1&work=9999"),
    # pipelined
    "pipelined-10": b"".join(req(f"/metric-stack?id={i}") for i in range(10)),
    "pipelined-mixed": req("/metric-heap?id=1") + req("/x", method="HEAD") + req("/stats-pointer?id=2")
        + req("/healthz", headers=[("Connection", "close")]) + req(),
    # bodies
    "get-with-body-then-next": req("/metric-stack?id=1", headers=[("Content-Length", "25")],
                                   body=b"GET /healthz HTTP/1.1\r\n\r\n") + req("/metric-stack?id=2"),
    "chunked-trailers": req("/healthz", method="POST", headers=[("Transfer-Encoding", "chunked")],
                            body=b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: yes\r\nY: z\r\n\r\n") + req(),
    "chunked-no-trailers": req("/metric-stack?id=3", headers=[("Transfer-Encoding", "chunked")],
                               body=b"a\r\n0123456789\r\n0\r\n\r\n") + req(),
    "chunked-bad-trailer": req("/healthz", headers=[("Transfer-Encoding", "chunked")],
                               body=b"0\r\nBad Trailer: x\r\n\r\n") + req(),
    "te-gzip-chunked": req("/healthz", headers=[("Transfer-Encoding", "gzip, chunked")],
                           body=b"0\r\n\r\n") + req(),
    # id and work values (README error table)
    "id-empty": req("/metric-stack?id="),
    "id-missing": req("/metric-stack?x=1"),
    "id-negative": req("/metric-stack?id=-1"),
    "id-plus": req("/metric-stack?id=+1"),
    "id-hex": req("/metric-stack?id=0x10"),
    "id-exp": req("/metric-stack?id=1e3"),
    "id-pct": req("/metric-stack?id=%31"),
    "id-20-digits": req("/metric-stack?id=00000000000000000001"),
    "id-overflow": req("/metric-stack?id=18446744073709551616"),
    "id-25-digits": req("/metric-stack?id=1234567890123456789012345"),
    "id-repeated": req("/metric-stack?id=1&id=2"),
    "id-leading-zero": req("/metric-stack?id=007&unknown=x&&=&work="),
    "work-too-big": req("/metric-heap?id=1&work=10000001"),
    "work-repeated": req("/metric-heap?id=1&work=1&work=2"),
    # malformed (RFC 9112): each is 400 and close
    "ws-before-colon": req(headers=[("Transfer-Encoding ", "chunked")], body=b"0\r\n\r\n"),
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\r\n  b\r\n\r\n" + req(),
    "dup-cl-same": req(headers=[("Content-Length", "1"), ("Content-Length", "1")], body=b"x"),
    "dup-cl-conflict": req(headers=[("Content-Length", "1"), ("Content-Length", "2")], body=b"xy"),
    "cl-list": req(headers=[("Content-Length", "1, 1")], body=b"x"),
    "cl-and-te": req(headers=[("Content-Length", "5"), ("Transfer-Encoding", "chunked")], body=b"0\r\n\r\n"),
    "te-not-final-chunked": req(headers=[("Transfer-Encoding", "chunked, gzip")], body=b"0\r\n\r\n"),
    "te-identity": req(headers=[("Transfer-Encoding", "identity")]),
    "te-twice": req(headers=[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], body=b"0\r\n\r\n"),
    "te-http10": req(version="HTTP/1.0", headers=[("Transfer-Encoding", "chunked")], body=b"0\r\n\r\n"),
    "bad-method-char": b"GE(T /healthz HTTP/1.1\r\n\r\n",
    "lower-method": b"get /healthz HTTP/1.1\r\n\r\n",
    "unknown-method": b"BREW /healthz HTTP/1.1\r\n\r\n",
    "bad-target-char": b"GET /heal\x7fthz HTTP/1.1\r\n\r\n",
    "target-high-byte": b"GET /h\xc3\xa9 HTTP/1.1\r\n\r\n",
    "bad-header-name": b"GET /healthz HTTP/1.1\r\nX(y): 1\r\n\r\n",
    "empty-header-name": b"GET /healthz HTTP/1.1\r\n: 1\r\n\r\n",
    "nul-in-value": b"GET /healthz HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    "nul-in-target": b"GET /he\x00lthz HTTP/1.1\r\n\r\n",
    "ctl-in-value": b"GET /healthz HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    "absurd-cl": req(headers=[("Content-Length", "99999999999999999999999")]),
    "cl-over-1mib": req(headers=[("Content-Length", str((1 << 20) + 1))]),
    "cl-negative": req(headers=[("Content-Length", "-1")]),
    "cl-plus": req(headers=[("Content-Length", "+1")], body=b"x"),
    "no-version": b"GET /healthz\r\n\r\n",
    "version-09": b"GET /healthz HTTP/0.9\r\n\r\n",
    "version-12": b"GET /healthz HTTP/1.2\r\n\r\n",
    "version-20": b"GET /healthz HTTP/2.0\r\n\r\n",
    "version-lower": b"GET /healthz http/1.1\r\n\r\n",
    "double-space": b"GET  /healthz HTTP/1.1\r\n\r\n",
    "trailing-space": b"GET /healthz HTTP/1.1 \r\n\r\n",
    "bare-lf": b"GET /healthz HTTP/1.1\nHost: t\n\n",
    "bare-cr": b"GET /healthz HTTP/1.1\rHost: t\r\n\r\n",
    "h2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000012040000000000000300000064000400100000"),
    "connect-with-body": b"CONNECT h:443 HTTP/1.1\r\nContent-Length: 25\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
    "upgrade": req(headers=[("Connection", "Upgrade"), ("Upgrade", "websocket")]) + b"\x81\x05hello",
    "if-none-match": req("/dashboard", headers=[("If-None-Match", 'W/"x", "0a1b2c3d"')])
    + req("/", method="HEAD", headers=[("If-None-Match", "*")])
    + req("/dashboard", headers=[("If-None-Match", '"0a1b2c3d'), ("if-none-match", '"DEADBEEF", "00000001"')]),
    "expect-100": req("/healthz", method="POST", headers=[("Expect", "100-continue"), ("Content-Length", "2")], body=b"hi"),
    # huge
    "huge-header": req(headers=[("X-Big", "a" * 1500)]),
    "many-headers": req(headers=[(f"X-{i}", "v") for i in range(200)]),
    "huge-target": req("/metric-stack?id=1&" + "p=q&" * 400),
    "huge-trailer": req("/healthz", headers=[("Transfer-Encoding", "chunked")],
                        body=b"0\r\nX: " + b"t" * 1500 + b"\r\n\r\n"),
    "big-chunked-body": req("/healthz", method="PUT", headers=[("Transfer-Encoding", "chunked")],
                            body=b"".join(b"100\r\n" + b"z" * 256 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n") + req(),
    "big-cl-body": req("/healthz", method="PUT", headers=[("Content-Length", "6000")], body=b"b" * 6000) + req(),
}


def frame(payload, lens=(), bytewise=False, world=None):
    lens = list(lens)
    if world is not None:
        if not lens:
            lens = [1]
        lens[0] |= 1
    else:
        lens = [l & ~1 for l in lens]
    ctl = len(lens) | (8 if bytewise else 0)
    out = bytes([ctl]) + bytes(lens)
    if world is not None:
        out += struct.pack("<Q", world)
    return out + payload


def main():
    os.makedirs(OUT, exist_ok=True)
    splits = [(), (0,), (6, 16, 64), (1, 2, 3, 5, 8, 13, 21)]
    for i, (name, payload) in enumerate(sorted(SEEDS.items())):
        lens = splits[i % len(splits)]
        world = 0x3ff0000000000000 + i * 0x1234567 if i % 3 == 0 else None
        data = frame(payload, lens, bytewise=len(payload) <= 2048, world=world)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
