#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Listening sockets.

  --listen 127.0.0.1:0 --listen [::1]:0: both addresses answer, and the log
      names both; with --acceptors 2 too (each shard listens on each)
      (the IPv6 part is skipped where this machine has no ::1)
  two instances on one port with --reuseport: the second starts, and both
      get connections (each answers with its own Server header)
  without --reuseport the second instance fails: exit 1 and "cannot
      listen on ...: Address already in use"; so does one beside a running
      instance of two shards (whose own sockets share the port)
  metricd -t: an address given twice fails the test (exit 2)"""
import re
import socket
import subprocess

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, Server, check, finish, info, req

ATTEMPTS = 200


def have_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def start(*args):
    """metricd with args (no --listen added); (proc, log lines, addresses)."""
    proc = subprocess.Popen([METRICD, "--no-pin", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = []
    for raw in proc.stderr:
        line = raw.decode(errors="replace").rstrip("\n")
        log.append(line)
        m = re.search(r"listening on (.*) workers=", line)
        if m:
            return proc, log, m.group(1).split(", ")
    proc.wait(30)
    return proc, log, []


def stop(proc):
    proc.terminate()
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def ask(addr, path="/healthz"):
    """One request to "HOST:PORT" or "[V6]:PORT": (status, Server header)."""
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((host, int(port)))
    c = Conn(0, sock=s)
    try:
        c.send(req(path))
        r = c.response()
        return r.status, r.headers.get("server")
    finally:
        c.close()


def two_addresses(v6):
    second = "[::1]:0" if v6 else "127.0.0.2:0"
    for extra in ((), ("--acceptors", "2", "--workers", "2")):
        proc, log, addrs = start("--listen", "127.0.0.1:0", "--listen", second, *extra)
        try:
            what = f"two --listen addresses{' with two shards' if extra else ''}"
            check(len(addrs) == 2 and addrs[0].startswith("127.0.0.1:") and
                  addrs[1].startswith("[::1]:" if v6 else "127.0.0.2:"),
                  f"{what}: the log names both ({addrs})")
            if len(addrs) == 2:
                ok = [ask(a)[0] == 200 for a in addrs for _ in range(8)]
                check(all(ok), f"{what}: both answer")
        finally:
            check(stop(proc) == 0, "exit 0")


def reuseport():
    with Server("--reuseport", "--server-header", "first") as a:
        addr = f"127.0.0.1:{a.port}"
        proc, log, addrs = start("--listen", addr, "--reuseport", "--server-header", "second")
        try:
            check(addrs == [addr], f"--reuseport: a second instance listens on {addr}")
            seen = set()
            for _ in range(ATTEMPTS):
                seen.add(ask(addr)[1])
                if len(seen) == 2:
                    break
            info(f"answered by: {sorted(seen)}")
            check(seen == {"first", "second"}, "both instances get connections")
        finally:
            check(stop(proc) == 0, "the second exits 0")
        check(a.stop() == 0, "the first exits 0")


def port_taken():
    for extra in ((), ("--acceptors", "2", "--workers", "2")):
        with Server(*extra) as a:
            addr = f"127.0.0.1:{a.port}"
            p = subprocess.run([METRICD, "--no-pin", "--listen", addr], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
            err = p.stderr.decode(errors="replace")
            what = "beside two shards" if extra else "without --reuseport"
            check(p.returncode == 1 and f"cannot listen on {addr}: Address already in use"
                  in err, f"{what}: the second fails, exit {p.returncode}: {err.strip()[-160:]!r}")
            check(ask(addr)[0] == 200, "... and the first still answers")
            a.stop()


def config_test():
    p = subprocess.run([METRICD, "-t", "--listen", "127.0.0.1:8181", "--listen",
                        "127.0.0.1:8181"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30, text=True)
    check(p.returncode == 2 and "127.0.0.1:8181 is given twice" in p.stderr,
          f"-t: an address given twice fails ({p.returncode}, {p.stderr.strip()!r})")
    p = subprocess.run([METRICD, "-t", "--listen", "127.0.0.1:8181", "--listen",
                        "[::1]:8181"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30, text=True)
    check(p.returncode == 0, f"-t: IPv4 and IPv6 on one port pass ({p.stderr.strip()!r})")


def main():
    v6 = have_ipv6_loopback()
    if not v6:
        info("no IPv6 loopback here: the second address is 127.0.0.2")
    two_addresses(v6)
    reuseport()
    port_taken()
    config_test()
    finish()


if __name__ == "__main__":
    main()
