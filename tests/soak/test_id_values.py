#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`id` and `work` values, end to end: each gets README.md's documented answer
on all four endpoints that take an id, all on one keep-alive connection
(a 400 for a bad parameter does not close it)."""
import json

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import Conn, Server, check, finish, req

REQUIRED = "id is required"
DECIMAL = "id must be a decimal integer"
RANGE = "id is out of range"
REPEATED = "id is given more than once"
WORK = "work must be a decimal integer"

# (query, expected: an int id for 200, or the start of the error message)
CASES = [
    ("id=", REQUIRED),
    ("", REQUIRED),
    ("x=1", REQUIRED),
    ("id", REQUIRED),
    ("id=-1", DECIMAL),
    ("id=+1", DECIMAL),
    ("id=0x10", DECIMAL),
    ("id=1e3", DECIMAL),
    ("id=%31", DECIMAL),
    ("id=%30%31", DECIMAL),
    ("id=1%00", DECIMAL),
    ("id=1.0", DECIMAL),
    ("id=%201", DECIMAL),
    ("id=0", 0),
    ("id=007", 7),
    ("id=18446744073709551615", 18446744073709551615),
    ("id=18446744073709551616", RANGE),
    ("id=99999999999999999999", RANGE),
    ("id=123456789012345678901234", RANGE),
    ("id=340282366920938463463374607431768211456", RANGE),
    # Leading zeros are accepted "up to 20 digits in all" (README): a
    # 20-digit id is its value, a longer one is out of range whatever it is.
    ("id=00000000000000000001", 1),
    ("id=000000000000000000001", RANGE),
    ("id=000000000000000000000000042", RANGE),
    ("id=1&id=2", REPEATED),
    ("id=1&id=1", REPEATED),
    ("id=&id=1", REPEATED),
    ("id=1&other=x&id=2", REPEATED),
    ("id=5&unknown=x&&=&", 5),
    ("id=5&work=0", 5),
    ("id=5&work=10000000", None),      # valid but slow: not sent
    ("id=5&work=10000001", WORK),
    ("id=5&work=-1", WORK),
    ("id=5&work=", WORK),
    ("id=5&work=1&work=1", WORK),
    ("work=1", REQUIRED),
]

PATHS = ["/metric-stack", "/metric-heap", "/stats-value", "/stats-pointer"]


def main():
    with Server("--workers", "2") as srv:
        c = Conn(srv.port)
        for path in PATHS:
            for query, want in CASES:
                if want is None:
                    continue
                target = f"{path}?{query}" if query else path
                c.send(req(target))
                r = c.response()
                if isinstance(want, int):
                    ok = r.status == 200
                    try:
                        ok = ok and json.loads(r.body)["id"] == want
                    except (ValueError, KeyError):
                        ok = False
                    check(ok, f"{target}: 200 with id {want} (got {r.status} {r.body[:60]!r})")
                else:
                    try:
                        msg = json.loads(r.body).get("error", "")
                    except ValueError:
                        msg = ""
                    check(r.status == 400 and msg.startswith(want) and not r.close,
                          f"{target}: 400 '{want}' (got {r.status} {r.body[:70]!r})")
        # The same error on HEAD carries no body, and the connection lives on.
        c.send(req("/metric-stack?id=-1", method="HEAD"))
        r = c.response(head=True)
        check(r.status == 400 and r.headers.get("content-length", "0") != "0",
              "HEAD with a bad id: 400 head only")
        c.send(req("/metric-stack?id=3"))
        r = c.response()
        check(r.status == 200 and json.loads(r.body)["id"] == 3, "connection still usable")
        c.close()
        check(srv.stop() == 0, "metricd exits 0 on SIGTERM")
    finish()


if __name__ == "__main__":
    main()
