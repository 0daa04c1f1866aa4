#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Start and stop of the real binary, the paths no other test takes.

  SIGTERM with idle connections open - one that never sent a byte, one
      that was answered and sits idle, one that sent half a request: all
      three are closed (the first and the last without a byte), and
      metricd exits 0 without needing --shutdown-timeout
  --version                              exit 0, one line
  a port already in use                  exit 1 with a message
  --cpus with fewer CPUs than --workers  workers share the CPUs (logged),
      and it serves
  SIGTERM again and again until metricd is gone (an impatient operator or
      service manager): the first drains, the rest change nothing - the
      exit status is 0, never death by the signal (143)"""
import os
import socket
import subprocess
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, HOST, Server, check, finish, info, req


def closed_silently(sock, timeout=10):
    """True if the peer closes without sending a byte."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def sigterm_with_idle_connections():
    with Server("--workers", "2", "--shutdown-timeout", "60000") as srv:
        never = socket.create_connection((HOST, srv.port))
        idle = Conn(srv.port, timeout=10)
        idle.send(req("/healthz"))
        check(idle.response().status == 200, "the idle connection was answered first")
        half = socket.create_connection((HOST, srv.port))
        half.sendall(b"GET /metric-stack?id=1 HTTP/1.1\r\nHo")
        # Accepted in order: once /stats is answered, all three were.
        check(srv.stats()["acceptor"]["accepted"] >= 4, "all three are accepted")
        t0 = time.time()
        rc = srv.stop(30)
        took = time.time() - t0
        check(rc == 0, f"SIGTERM with 3 idle connections: exit 0 (got {rc})")
        check(closed_silently(never), "the connection that never sent a byte is closed")
        check(closed_silently(half), "the half-sent request is closed unanswered")
        check(idle.eof(10), "the answered, idle connection is closed")
        info(f"stopped in {took:.2f} s")
        check(not any("shutdown timeout" in l for l in srv.log),
              "nothing waited for --shutdown-timeout")
        check(any("SIGTERM: draining" in l for l in srv.log), "the drain is logged")
        check(not srv.sanitizer_reports(), "no sanitizer reports")
        for s in (never, half):
            s.close()
        idle.close()


def version():
    p = subprocess.run([METRICD, "--version"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    check(p.returncode == 0 and out.startswith("metricd ") and out.count("\n") == 1,
          f"--version: exit {p.returncode}, {out.strip()!r}")


def port_in_use():
    with Server("--workers", "1") as srv:
        p = subprocess.run([METRICD, "--listen", f"{HOST}:{srv.port}", "--no-pin",
                            "--workers", "1"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 1 and "cannot listen on" in err and "in use" in err,
              f"a port in use: exit {p.returncode}: {err.strip()[-120:]}")
        srv.stop()


def workers_share_cpus():
    cpu = min(os.sched_getaffinity(0))
    # Not Server(): it passes --no-pin.
    proc = subprocess.Popen([METRICD, "--listen", f"{HOST}:0", "--cpus", str(cpu),
                             "--workers", "3"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log, port = [], None
    try:
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            log.append(line)
            if "listening on" in line:
                port = int(line.rsplit(":", 1)[1].split()[0])
                break
        want = (f"shard 0: acceptor cpu {cpu}; w0 cpu {cpu} spin off, "
                f"w1 cpu {cpu} spin off, w2 cpu {cpu} spin off")
        check(any(want in l for l in log),
              f"--workers 3 --cpus N: where each thread runs is logged: {want!r}")
        if port:
            c = Conn(port)
            c.send(req("/metric-stack?id=3"))
            check(c.response().status == 200, "... and it serves")
            c.close()
        proc.terminate()
        check(proc.wait(30) == 0, "... and exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def sigterm_until_gone(rounds=5):
    for k in range(rounds):
        with Server("--workers", "2") as srv:
            c = Conn(srv.port)
            c.send(b"".join(req(f"/metric-stack?id={i}") for i in range(200)))
            c.responses(200)
            # bash's kill builtin in a loop: a signal every few microseconds,
            # through the drain and the exit (a zombie still takes them);
            # bounded by count.
            subprocess.run(["bash", "-c", f"for ((i = 0; i < 30000; i++)); do "
                            f"kill -TERM {srv.proc.pid} 2>/dev/null || break; done"],
                           timeout=60)
            rc = srv.stop()
            c.close()
            if rc != 0:
                break
    check(rc == 0, f"SIGTERM repeated through the exit (round {k + 1} of {rounds}): "
                   f"exit 0 (got {rc})")


def main():
    sigterm_with_idle_connections()
    sigterm_until_gone()
    version()
    port_in_use()
    workers_share_cpus()
    finish()


if __name__ == "__main__":
    main()
