#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--listen [::1]:0: metricd listens on the IPv6 loopback, says so as
"[::1]:PORT", serves both paths there, and the access log names the peer
as ::1.  Skipped (77) where this machine has no ::1."""
import os
import re
import socket
import subprocess
import tempfile
import threading

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, check, finish, info, req, skip


def have_ipv6_loopback():
    if not socket.has_ipv6:
        return "Python was built without IPv6"
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return None
    except OSError as e:
        return f"cannot bind ::1 ({e.strerror})"


def main():
    why = have_ipv6_loopback()
    if why:
        skip(f"no IPv6 loopback on this machine: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        alog = os.path.join(tmp, "access.log")
        proc = subprocess.Popen([METRICD, "--listen", "[::1]:0", "--no-pin", "--workers", "2",
                                 "--access-log", alog], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log, port = [], None
        try:
            for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                log.append(line)
                m = re.search(r"listening on \[::1\]:(\d+)", line)
                if m:
                    port = int(m.group(1))
                    break
            check(port is not None, "it says it listens on [::1]:PORT")
            if port is None:
                print("\n".join(log[-10:]))
                finish()
            reader = threading.Thread(target=lambda: [log.append(l.decode(errors="replace"))
                                                      for l in proc.stderr], daemon=True)
            reader.start()
            sock = socket.create_connection(("::1", port), timeout=10)
            c = Conn(port, sock=sock)
            c.send(req("/metric-stack?id=6") + req("/metric-heap?id=6") +
                   req("/stats", headers=[("Connection", "close")]))
            a, b, st = c.responses(3)
            untimed = [re.sub(rb'"timestamp":\d+', b"", x.body) for x in (a, b)]
            check(a.status == 200 and b.status == 200 and untimed[0] == untimed[1] and
                  untimed[0].startswith(b'{"id":6,'), "both paths answer over IPv6, alike")
            check(st.status == 200 and st.close and c.eof(), "/stats, then close")
            c.close()
            proc.terminate()
            rc = proc.wait(30)
            check(rc == 0, f"exit 0 on SIGTERM (got {rc})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(alog) as f:
            lines = f.read().splitlines()
        info(f"{len(lines)} access-log lines")
        check(len(lines) == 3 and all(l.startswith("::1 - - [") for l in lines),
              "the access log names the peer ::1")
        check(not any("Sanitizer" in l or "runtime error:" in l for l in log),
              "no sanitizer reports")
    finish()


if __name__ == "__main__":
    main()
